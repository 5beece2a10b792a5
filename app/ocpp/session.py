"""One connected charge point: the receive loop, and the central system's CALLs to it, one at a time.

The session moves frames; what a CALL means is the dispatcher's business (router.CallDispatcher).
"""
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import gevent
from gevent.event import AsyncResult
from gevent.lock import BoundedSemaphore
from ocpp.exceptions import GenericError, OCPPError
from simple_websocket import ConnectionClosed

from app import metrics
from app.ocpp import transport
from app.ocpp.router import CallDispatcher
from app.spec import protocol, schemas
from app.spec.close_codes import NORMAL_CLOSURE, POLICY_VIOLATION
from app.spec.failures import CallErrorReceived, CallTimeout, InvalidCallResult, NotConnected
from app.spec.protocol import Call, CallError, CallResult, FrameRejected
from app.timeutil import utcnow

logger = logging.getLogger(__name__)


BURST = 5  # a charge point may send this many seconds' worth of CALLs at once


class RateLimit:
    """A token bucket: `rate` frames a second on average, bursts of BURST x rate."""

    def __init__(self, rate: float):
        self.rate, self.capacity = rate, rate * BURST
        self.tokens, self.updated = self.capacity, time.monotonic()
        self.refused_in_a_row = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_in_a_row = 0
            return True
        self.refused_in_a_row += 1
        return False

    @property
    def abused(self) -> bool:
        """Refused a whole burst's worth in a row: the charge point does not slow down."""
        return self.refused_in_a_row > self.capacity


@dataclass
class _PendingCall:
    unique_id: str
    action: str
    result: AsyncResult = field(default_factory=AsyncResult)


class ChargePointSession:
    def __init__(self, charge_point_id: str, websocket, dispatcher: CallDispatcher,
                 connected_at: datetime, last_seen_every: float = 30.0, on_seen=None,
                 calls_per_second: float = 20.0):
        self.charge_point_id = charge_point_id
        self.connected_at = connected_at
        self.token = uuid.uuid4().hex  # names this connection in the registry, apart from a newer one
        self.close_reason = "connection closed by the charge point"
        self._ws = websocket
        transport.prepare(websocket)
        self._dispatcher = dispatcher
        self._call_slot = BoundedSemaphore()
        self._pending: _PendingCall | None = None
        self._on_seen = on_seen
        self._last_seen_every = last_seen_every
        self._last_seen_recorded = time.monotonic()
        self._rate_limit = RateLimit(calls_per_second)

    # --- the charge point's frames ---

    def serve(self) -> None:
        """Handle frames until the connection closes."""
        try:
            transport.read_messages(self._ws, self._handle_frame)
        except ConnectionClosed:
            pass
        finally:
            self._fail_pending(f"charge point {self.charge_point_id} disconnected")

    def _handle_frame(self, text: str | bytes) -> None:
        self._note_seen()
        try:
            message = protocol.parse(text)
        except FrameRejected as rejection:
            if rejection.unique_id is None:
                self._dispatcher.dropped(text, rejection.error.description)
            else:
                self._dispatcher.rejected(text, rejection.error)
                self.send(protocol.call_error_frame(rejection.unique_id, rejection.error))
            return
        if not self._rate_limit.allow():
            self._refuse_over_rate(message)
        elif isinstance(message, Call):
            self.send(self._dispatcher.answer(message))
        else:
            self._resolve_pending(message, text)

    def _refuse_over_rate(self, message) -> None:
        limit = f"more than {self._rate_limit.rate:g} CALLs a second"
        if self._rate_limit.refused_in_a_row == 1:
            self._dispatcher.dropped(protocol.call_frame(*message) if isinstance(message, Call) else str(message),
                                     f"rate limit: {limit}")
        if isinstance(message, Call):
            self.send(protocol.call_error_frame(message.unique_id, GenericError(f"Rate limit exceeded: {limit}")))
            metrics.answered(message.action, GenericError.code)
        if self._rate_limit.abused:
            self.close(POLICY_VIOLATION, f"rate limit exceeded ({limit})")

    def _note_seen(self) -> None:
        # last_seen is written at most every _last_seen_every seconds: once per frame would double the
        # writes of the busiest charge points for a value nobody needs to the second.
        now = time.monotonic()
        if self._on_seen is not None and now - self._last_seen_recorded >= self._last_seen_every:
            self._last_seen_recorded = now
            self._on_seen(self.charge_point_id, utcnow())

    def _resolve_pending(self, message: CallResult | CallError, text) -> None:
        pending = self._pending
        if pending is None or pending.unique_id != message.unique_id:
            self._dispatcher.dropped(text, f"reply {message.unique_id!r} matches no CALL awaiting an answer")
            return
        if isinstance(message, CallError):
            pending.result.set_exception(CallErrorReceived(message.error_code, message.error_description,
                                                           message.error_details))
            return
        try:
            payload, _ = schemas.check(schemas.response_schema(pending.action), message.payload,
                                       self._dispatcher.lenient)
        except OCPPError as violation:
            pending.result.set_exception(InvalidCallResult(pending.action, violation.description))
            return
        pending.result.set(payload)

    # --- the central system's CALLs ---

    def call(self, action: str, payload: dict, timeout: float) -> dict:
        """Send a CALL and return the CALLRESULT's payload; a CALL already outstanding is waited for.

        Raises CallTimeout (no answer within `timeout`, queueing included), CallErrorReceived,
        InvalidCallResult or NotConnected.
        """
        deadline = time.monotonic() + timeout
        if not self._call_slot.acquire(timeout=timeout):
            raise CallTimeout(self.charge_point_id, action, timeout)
        try:
            pending = _PendingCall(str(uuid.uuid4()), action)
            self._pending = pending
            with gevent.Timeout(max(deadline - time.monotonic(), 0), False):
                self.send(protocol.call_frame(pending.unique_id, action, payload))
                return pending.result.get()
            raise CallTimeout(self.charge_point_id, action, timeout)
        except ConnectionClosed:
            raise NotConnected(self.charge_point_id) from None
        finally:
            self._pending = None
            self._call_slot.release()

    def keep_alive(self, answer_within: float) -> None:
        """Ping the charge point; close the connection when it left a ping unanswered for `answer_within` s."""
        if not self._ws.connected:
            return
        try:
            if not transport.ping(self._ws, answer_within):
                self.close(POLICY_VIOLATION, f"no answer to a WebSocket ping within {answer_within:g} s")
        except (ConnectionClosed, OSError):
            pass  # closing or closed: its reading loop ends it

    @property
    def silent_seconds(self) -> float:
        """Seconds since the charge point last sent a frame or answered a ping."""
        return transport.seconds_since_received(self._ws)

    @property
    def busy(self) -> bool:
        return self._call_slot.locked()

    def _fail_pending(self, reason: str) -> None:
        pending = self._pending
        if pending is not None and not pending.result.ready():
            pending.result.set_exception(NotConnected(self.charge_point_id))
            logger.info("%s: %s while %s awaited its answer", self.charge_point_id, reason, pending.action)

    # --- the connection ---

    def send(self, frame: str) -> None:
        self._ws.send(frame)

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the WebSocket; serve() then returns in its own greenlet."""
        self.close_reason = reason or "closed by the central system"
        try:
            transport.close(self._ws, code, reason)
        except (ConnectionClosed, OSError):
            pass  # already closed, or its socket already gone: closed is what was asked
