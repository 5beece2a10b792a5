"""Which handler answers which action, and the one place where a CALL becomes its CALLRESULT or CALLERROR.

Handlers take the charge point id and the payload's fields as snake_case keyword arguments (with
**kwargs, so that fields a later edition adds do not break them) and return a result dataclass of
ocpp.v16.call_result; camelCase exists only on the wire.
"""
import logging
from typing import Callable

from ocpp.exceptions import InternalError, NotImplementedError, NotSupportedError, OCPPError, SecurityError
from ocpp.v16.enums import Action

from app import metrics
from app.extensions import db
from app.outages import FailureLog, database_unavailable
from app.services import charge_points, system_log
from app.spec import protocol, schemas, wire
from app.spec.protocol import Call

logger = logging.getLogger(__name__)

Handler = Callable[..., object]
_OCPP_ACTIONS = frozenset(action.value for action in Action)
# During an outage every charge point's every write fails alike: one line per interval, not a traceback each.
_database_failures = FailureLog("CALLs answered InternalError: the database is unavailable")


class Router:
    def __init__(self):
        self._handlers: dict[str, Handler] = {}

    def on(self, action: Action) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of CALLs of `action`."""
        def register(handler: Handler) -> Handler:
            self._handlers[action] = handler
            return handler
        return register

    def handler(self, action: str) -> Handler:
        """The handler of `action`; raises NotImplemented for an unknown action, NotSupported for one
        OCPP 1.6 defines but a charge point may not send (or we do not take)."""
        try:
            return self._handlers[action]
        except KeyError:
            pass
        if action in _OCPP_ACTIONS:
            raise NotSupportedError(f"{action} is not supported from a charge point")
        raise NotImplementedError(f"{action} is not an OCPP 1.6 action")

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self._handlers)


router = Router()


class InvalidResponse(RuntimeError):
    """A handler's result breaks the response schema: a bug of ours, answered with InternalError."""


class CallDispatcher:
    """Answers the CALLs of one connected charge point, and records what went wrong with its frames."""

    def __init__(self, charge_point_id: str, lenient: bool, accepted: bool = True):
        self.charge_point_id = charge_point_id
        self.lenient = lenient
        # Until the central system accepts its BootNotification, a charge point may send nothing else.
        self.accepted = accepted

    def answer(self, call: Call) -> str:
        """The reply frame to `call`; database work is committed or rolled back before it returns."""
        try:
            frame = protocol.call_result_frame(call.unique_id, self._result(call))
            metrics.answered(call.action)
            _database_failures.succeeded()
            return frame
        except OCPPError as error:
            db.session.rollback()
            self._log_rejection(protocol.call_frame(*call), error)
            metrics.answered(call.action, error.code)
            return protocol.call_error_frame(call.unique_id, error)
        except Exception as error:  # a bug or a database failure: the charge point must still get an answer
            db.session.rollback()
            if database_unavailable(error):
                _database_failures.failed(error)
            else:
                logger.exception("%s: %s failed", self.charge_point_id, call.action)
                system_log.error("call_failed", f"{call.action} could not be handled: {error!r}",
                                 charge_point_id=self.charge_point_id,
                                 details={"uniqueId": call.unique_id, "action": call.action})
            metrics.answered(call.action, InternalError.code)
            return protocol.call_error_frame(call.unique_id, InternalError(
                f"{call.action} could not be handled; the central system logged the cause"))
        finally:
            db.session.remove()

    def _result(self, call: Call) -> dict:
        handler = router.handler(call.action)
        if not self.accepted and call.action != Action.boot_notification:
            raise SecurityError(f"{call.action} refused: the central system has not accepted this charge point "
                                "(its BootNotification was not answered Accepted)")
        payload, repairs = schemas.check(schemas.request_schema(call.action), call.payload, self.lenient)
        if repairs:
            system_log.warning("frame_repaired", f"{call.action} broke the schema; processed after: "
                               + "; ".join(repairs), charge_point_id=self.charge_point_id,
                               details={"frame": system_log.truncate(protocol.call_frame(*call))})
        result = handler(self.charge_point_id, **wire.snake_case_keys(payload))
        reply = wire.payload(result)
        if call.action == Action.boot_notification:
            self.accepted = charge_points.registration_accepted(result.status)
        try:
            schemas.validate(schemas.response_schema(call.action), reply)
        except OCPPError as violation:
            raise InvalidResponse(f"{call.action} response {reply} breaks its schema: {violation}") from None
        return reply

    def rejected(self, frame: str | bytes, error: OCPPError) -> None:
        """A frame answered with a CALLERROR before it could be read as a CALL: logged with the frame."""
        self._log_rejection(frame, error)
        metrics.rejected(error.code)

    def _log_rejection(self, frame: str | bytes, error: OCPPError) -> None:
        system_log.warning("frame_rejected", f"{error.code}: {error.description}",
                           charge_point_id=self.charge_point_id,
                           details={"frame": system_log.truncate(frame), "errorDetails": error.details})

    def dropped(self, frame: str | bytes, reason: str) -> None:
        """Log a frame that nothing can answer (a reply that is malformed or matches no CALL)."""
        system_log.warning("frame_dropped", f"frame dropped: {reason}", charge_point_id=self.charge_point_id,
                           details={"frame": system_log.truncate(frame)})

