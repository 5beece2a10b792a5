"""Which charge points are connected, and the way to send them CALLs, whichever process holds them.

The API and the jobs reach charge points only through here: connections().call(id, action, payload).
Sessions of this process are held here; with REDIS_URL, the relay records them in Redis and carries
CALLs to and from the other processes (app/services/relay.py).
"""
import logging
import time
from typing import Protocol

import gevent
from flask import Flask, current_app

from app import metrics
from app.extensions import redis_client
from app.services.relay import RedisRelay
from app.spec.failures import CommandFailed, NotConnected

logger = logging.getLogger(__name__)

REPLACED = "replaced by a newer connection of the same charge point"


class ChargePointSession(Protocol):
    """What the registry needs of a connected charge point's session (the OCPP adapter's session is one)."""
    charge_point_id: str
    token: str  # names this connection in the registry, apart from a newer one of the same charge point

    @property
    def busy(self) -> bool: ...

    def call(self, action: str, payload: dict, timeout: float) -> dict: ...

    def close(self, code: int = ..., reason: str = "") -> None: ...


class ShuttingDown(Exception):
    """The process is closing its connections: a new one is closed at once."""


class Connections:
    def __init__(self, relay: RedisRelay | None = None, default_timeout: float = 30.0):
        self._sessions: dict[str, ChargePointSession] = {}
        self._closing: tuple[int, str] | None = None  # (close code, reason) once close_all() was called
        self.relay = relay
        self.default_timeout = default_timeout

    # --- the sessions of this process ---

    def attach(self, session: ChargePointSession) -> None:
        """Make `session` the charge point's connection, closing the one it replaces (in any process).

        With Redis, the session is held here only once the registry records it: raises RedisError
        (and holds nothing) when it cannot, so that no session lingers that no other process can reach.
        Raises ShuttingDown (having closed it) once close_all() was called.
        """
        if self._closing is not None:
            session.close(*self._closing)
            raise ShuttingDown(self._closing[1])
        if self.relay is not None:
            self.relay.claim(session.charge_point_id, session.token)
        previous = self._sessions.get(session.charge_point_id)
        self._sessions[session.charge_point_id] = session
        if previous is not None and previous is not session:
            logger.info("%s: %s", session.charge_point_id, REPLACED)
            previous.close(reason=REPLACED)
        else:
            metrics.CONNECTED.inc()

    def detach(self, session: ChargePointSession) -> bool:
        """Forget `session`; False when a newer connection had already replaced it (nothing to forget)."""
        if self._sessions.get(session.charge_point_id) is not session:
            return False
        del self._sessions[session.charge_point_id]
        metrics.CONNECTED.dec()
        if self.relay is not None:
            self.relay.release(session.charge_point_id, session.token)
        return True

    def tokens(self) -> dict[str, str]:
        """charge point id -> connection token, of the sessions held here (what the registry must say)."""
        return {charge_point_id: session.token for charge_point_id, session in self._sessions.items()}

    def call_local(self, charge_point_id: str, action: str, payload: dict, timeout: float) -> dict:
        session = self._sessions.get(charge_point_id)
        if session is None:
            raise NotConnected(charge_point_id)
        return session.call(action, payload, timeout)

    def close_local(self, charge_point_id: str, reason: str, token: str | None = None,
                    silent_for: float | None = None) -> bool:
        """Close the charge point's connection in this process (only that one with `token`; only if it
        sent nothing, not even a pong, for `silent_for` seconds); whether it was closed."""
        session = self._sessions.get(charge_point_id)
        if session is None or (token is not None and session.token != token):
            return False
        if silent_for is not None and session.silent_seconds < silent_for:
            return False
        session.close(reason=reason)
        return True

    def local_ids(self) -> set[str]:
        return set(self._sessions)

    def local_count(self) -> int:
        return len(self._sessions)

    def local_sessions(self) -> list[ChargePointSession]:
        return list(self._sessions.values())

    def holds(self, charge_point_id: str) -> bool:
        """Whether this process holds the charge point's connection."""
        return charge_point_id in self._sessions

    # --- every process ---

    def is_connected(self, charge_point_id: str) -> bool:
        return bool(self.connected_among([charge_point_id]))

    def connected_among(self, charge_point_ids: list[str]) -> set[str]:
        local = {charge_point_id for charge_point_id in charge_point_ids if charge_point_id in self._sessions}
        if self.relay is None:
            return local
        return local | set(self.relay.holders([i for i in charge_point_ids if i not in local]))

    def connected_ids(self) -> set[str]:
        if self.relay is None:
            return set(self._sessions)
        return set(self._sessions) | self.relay.connected_ids()

    def call(self, charge_point_id: str, action: str, payload: dict, timeout: float | None = None) -> dict:
        """Send a CALL to a connected charge point and return its CALLRESULT payload.

        Raises NotConnected, CallTimeout, CallErrorReceived or InvalidCallResult (failures.CommandFailed).
        """
        result = self.call_many([(charge_point_id, action, payload)], timeout)[0]
        if isinstance(result, CommandFailed):
            raise result
        return result

    def call_many(self, calls: list[tuple[str, str, dict]], timeout: float | None = None
                  ) -> list[dict | CommandFailed]:
        """Send CALLs side by side; each result is a CALLRESULT payload or the CommandFailed it came to."""
        timeout = self.default_timeout if timeout is None else timeout
        began = time.monotonic()
        results: list = [None] * len(calls)
        local, remote = [], []
        for index, call in enumerate(calls):
            (local if call[0] in self._sessions or self.relay is None else remote).append(index)
        greenlets = {index: gevent.spawn(self._call_here, *calls[index], timeout) for index in local}
        if remote:
            for index, result in zip(remote, self.relay.call_many([calls[index] for index in remote], timeout)):
                results[index] = result
        for index, greenlet in greenlets.items():
            results[index] = greenlet.get()
        seconds = time.monotonic() - began
        for (_, action, _), result in zip(calls, results):
            outcome = result.kind if isinstance(result, CommandFailed) else "answered"
            metrics.COMMAND_SECONDS.labels(metrics.action_label(action), outcome).observe(seconds)
        return results

    def _call_here(self, charge_point_id, action, payload, timeout) -> dict | CommandFailed:
        try:
            return self.call_local(charge_point_id, action, payload, timeout)
        except CommandFailed as failure:
            return failure

    def disconnect(self, charge_point_id: str, reason: str, silent_for: float | None = None) -> bool:
        """Close the charge point's connection wherever it is held (with silent_for: only if the process
        holding it heard nothing from it for that long); False when it is not connected here and no
        other process holds it."""
        if self.close_local(charge_point_id, reason, silent_for=silent_for) or charge_point_id in self._sessions:
            return True
        return self.relay is not None and self.relay.close(charge_point_id, reason, silent_for)

    def close_all(self, code: int, reason: str) -> None:
        """Close every connection, and from now on each new one as it comes (the process is going away:
        its listening socket may still hand it a connection for a moment)."""
        self._closing = (code, reason)
        for count, session in enumerate(list(self._sessions.values()), start=1):
            session.close(code, reason)
            if count % 200 == 0:
                gevent.sleep(0)  # 19,000 close frames in a row would hold the hub for seconds

    def busy(self) -> bool:
        """Whether a CALL to a charge point of this process awaits its answer."""
        return any(session.busy for session in self._sessions.values())


def init_app(app: Flask) -> None:
    relay = None
    if app.config["REDIS_URL"]:
        relay = RedisRelay(redis_client(app), app.config["CONNECTION_REGISTRY_TTL"])
    app.extensions["ocpp_connections"] = Connections(relay, app.config["OCPP_COMMAND_TIMEOUT"])


def connections() -> Connections:
    return current_app.extensions["ocpp_connections"]
