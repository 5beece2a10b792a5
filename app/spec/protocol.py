"""OCPP-J framing: text frames in, CALL / CALLRESULT / CALLERROR out, and back.

Nothing here knows what an action means. A frame that cannot be taken raises FrameRejected with the
CALLERROR the OCPP-J 1.6 specification names (section 4.2.3, with the errata's spellings):

| what is wrong                                        | answer                                 |
|------------------------------------------------------|----------------------------------------|
| not JSON, NaN/Infinity, nested too deep              | FormationViolation, uniqueId "-1"      |
| not a JSON array, or empty                           | FormationViolation, uniqueId "-1"      |
| uniqueId missing, not a string, or over 36 chars     | FormationViolation, uniqueId "-1"      |
| MessageTypeId other than 2, 3 or 4                   | PropertyConstraintViolation            |
| CALL with fewer than 4 elements                      | ProtocolError (the frame is incomplete)|
| CALL with more elements, action not a string,        | FormationViolation                     |
| payload not an object                                |                                        |
| a NUL character (\u0000) in a value                  | PropertyConstraintViolation            |
| malformed CALLRESULT / CALLERROR                     | dropped and logged (nothing answers a  |
|                                                      | reply)                                 |

"-1" is the uniqueId OCPP-J prescribes for answering a frame whose own id cannot be read.
"""
import json
from typing import NamedTuple

from ocpp.exceptions import (FormationViolationError, OCPPError, PropertyConstraintViolationError,
                             ProtocolError)

from app.spec.values import contains_nul

CALL, CALLRESULT, CALLERROR = 2, 3, 4
UNREADABLE_ID = "-1"
MAX_UNIQUE_ID_LENGTH = 36


class Call(NamedTuple):
    unique_id: str
    action: str
    payload: dict


class CallResult(NamedTuple):
    unique_id: str
    payload: dict


class CallError(NamedTuple):
    unique_id: str
    error_code: str
    error_description: str
    error_details: dict


Message = Call | CallResult | CallError


class FrameRejected(Exception):
    """A frame that cannot be taken: answer `error` under `unique_id`, or drop it when that is None."""

    def __init__(self, error: OCPPError, unique_id: str | None):
        super().__init__(error.description)
        self.error = error
        self.unique_id = unique_id


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse(text: str | bytes) -> Message:
    """The message a frame carries; raises FrameRejected."""
    try:
        frame = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise FrameRejected(FormationViolationError(f"Frame is not valid JSON: {_short(error)}"),
                            UNREADABLE_ID) from None
    if not isinstance(frame, list) or not frame:
        raise FrameRejected(FormationViolationError("Frame must be a non-empty JSON array"), UNREADABLE_ID)
    if len(frame) < 2 or not _is_unique_id(frame[1]):
        raise FrameRejected(FormationViolationError(
            f"Element 2 must be the uniqueId, a string of at most {MAX_UNIQUE_ID_LENGTH} characters"),
            UNREADABLE_ID)
    message_type, unique_id = frame[0], frame[1]
    if message_type == CALL and type(message_type) is int:
        # JSON can only carry a NUL escaped; looking for the escape first spares most frames the walk.
        may_hold_nul = ("\\u0000" if isinstance(text, str) else b"\\u0000") in text
        return _call(frame, unique_id, may_hold_nul)
    if message_type == CALLRESULT and type(message_type) is int:
        return _call_result(frame, unique_id)
    if message_type == CALLERROR and type(message_type) is int:
        return _call_error(frame, unique_id)
    raise FrameRejected(PropertyConstraintViolationError(
        f"MessageTypeId must be 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR), got {_short(message_type)}"),
        unique_id)


def _call(frame: list, unique_id: str, may_hold_nul: bool) -> Call:
    if len(frame) < 4:
        raise FrameRejected(ProtocolError("A CALL has 4 elements: [2, uniqueId, action, payload]"), unique_id)
    if len(frame) > 4:
        raise FrameRejected(FormationViolationError("A CALL has exactly 4 elements"), unique_id)
    action, payload = frame[2], frame[3]
    if not isinstance(action, str) or not action:
        raise FrameRejected(FormationViolationError("The action of a CALL must be a non-empty string"), unique_id)
    if not isinstance(payload, dict):
        raise FrameRejected(FormationViolationError("The payload of a CALL must be a JSON object"), unique_id)
    if may_hold_nul and contains_nul(payload):
        raise FrameRejected(PropertyConstraintViolationError("NUL characters are not allowed in values"), unique_id)
    return Call(unique_id, action, payload)


def _call_result(frame: list, unique_id: str) -> CallResult:
    if len(frame) != 3 or not isinstance(frame[2], dict):
        raise FrameRejected(FormationViolationError(
            "A CALLRESULT is [3, uniqueId, payload] with an object payload"), None)
    return CallResult(unique_id, frame[2])


def _call_error(frame: list, unique_id: str) -> CallError:
    if len(frame) != 5 or not isinstance(frame[2], str) or not isinstance(frame[3], str) \
            or not isinstance(frame[4], dict):
        raise FrameRejected(FormationViolationError(
            "A CALLERROR is [4, uniqueId, errorCode, errorDescription, errorDetails]"), None)
    return CallError(unique_id, frame[2], frame[3], frame[4])


def _is_unique_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_UNIQUE_ID_LENGTH


def _short(value, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, Exception) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _dumps(frame: list) -> str:
    return json.dumps(frame, separators=(",", ":"))


def call_frame(unique_id: str, action: str, payload: dict) -> str:
    return _dumps([CALL, unique_id, action, payload])


def call_result_frame(unique_id: str, payload: dict) -> str:
    return _dumps([CALLRESULT, unique_id, payload])


def call_error_frame(unique_id: str, error: OCPPError) -> str:
    return _dumps([CALLERROR, unique_id, error.code, error.description, error.details or {}])
