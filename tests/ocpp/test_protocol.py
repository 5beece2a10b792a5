"""OCPP-J framing: every kind of frame, well and badly formed, and the CALLERROR each bad one gets."""
import json

import pytest

from app.spec import protocol
from app.spec.protocol import Call, CallError, CallResult, FrameRejected


def test_call_result_and_error_are_read():
    assert protocol.parse('[2,"a1","Heartbeat",{}]') == Call("a1", "Heartbeat", {})
    assert protocol.parse('[3,"a2",{"currentTime":"x"}]') == CallResult("a2", {"currentTime": "x"})
    assert protocol.parse('[4,"a3","NotSupported","no",{}]') == CallError("a3", "NotSupported", "no", {})


@pytest.mark.parametrize("frame, code, unique_id", [
    ("not json", "FormationViolation", "-1"),
    ('[2,"a","Heartbeat",NaN]', "FormationViolation", "-1"),
    ('[2,"a","Heartbeat",{"x":Infinity}]', "FormationViolation", "-1"),
    ("[" * 3000 + "]" * 3000, "FormationViolation", "-1"),
    ('{"a":1}', "FormationViolation", "-1"),
    ("[]", "FormationViolation", "-1"),
    ("[2]", "FormationViolation", "-1"),
    ('[2,17,"Heartbeat",{}]', "FormationViolation", "-1"),
    ('[2,"' + "x" * 37 + '","Heartbeat",{}]', "FormationViolation", "-1"),
    ('[5,"a",{}]', "PropertyConstraintViolation", "a"),
    ('["2","a","Heartbeat",{}]', "PropertyConstraintViolation", "a"),
    ('[2.0,"a","Heartbeat",{}]', "PropertyConstraintViolation", "a"),
    ('[2,"a","Heartbeat"]', "ProtocolError", "a"),
    ('[2,"a"]', "ProtocolError", "a"),
    ('[2,"a","Heartbeat",{},{}]', "FormationViolation", "a"),
    ('[2,"a",7,{}]', "FormationViolation", "a"),
    ('[2,"a","Heartbeat",[]]', "FormationViolation", "a"),
])
def test_bad_frames_are_rejected_with_the_spec_error(frame, code, unique_id):
    with pytest.raises(FrameRejected) as rejected:
        protocol.parse(frame)
    assert rejected.value.error.code == code
    assert rejected.value.unique_id == unique_id


@pytest.mark.parametrize("frame", ['[3,"a"]', '[3,"a",[]]', '[4,"a","X"]', '[4,"a",1,"d",{}]'])
def test_malformed_replies_are_dropped_not_answered(frame):
    with pytest.raises(FrameRejected) as rejected:
        protocol.parse(frame)
    assert rejected.value.unique_id is None


def test_frames_written_are_compact_json_arrays():
    from ocpp.exceptions import ProtocolError
    assert protocol.call_frame("u", "Reset", {"type": "Soft"}) == '[2,"u","Reset",{"type":"Soft"}]'
    assert protocol.call_result_frame("u", {}) == '[3,"u",{}]'
    error = json.loads(protocol.call_error_frame("u", ProtocolError("short")))
    assert error == [4, "u", "ProtocolError", "short", {}]
