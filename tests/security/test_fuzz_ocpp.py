"""Hypothesis-generated frames at the WebSocket: garbage, deep nesting, huge numbers, wrong types, and
payloads that follow the OCPP schemas to the letter. The server answers each with a CALLRESULT or the
right CALLERROR (or drops a reply, or closes that one connection), stays up, and a well-behaved charge
point beside it keeps working and loses nothing."""
import json
import os
import threading
from contextlib import ExitStack
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.spec import schemas
from tests.charge_points import new_id, timestamp
from tests.conftest import BACKENDS, running_server

OCPP_16_ERROR_CODES = {"NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
                       "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
                       "TypeConstraintViolation", "GenericError"}
FRAMES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
ACTIONS = sorted(schemas.CHARGE_POINT_ACTIONS)

leaves = st.none() | st.booleans() | st.integers(-(10 ** 30), 10 ** 30) | st.floats(allow_nan=False) | \
    st.text(max_size=60)
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=5) |
                           st.dictionaries(st.text(max_size=20), inner, max_size=5), max_leaves=25)
unique_ids = st.text(max_size=40) | st.integers() | st.none()


def from_ocpp_schema(node: dict):
    """Values that follow one node of an OCPP schema (with edge cases: bounds, lengths, timestamps)."""
    kind = node.get("type")
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "object":
        properties = {name: from_ocpp_schema(child) for name, child in node.get("properties", {}).items()}
        required = set(node.get("required", ()))
        return st.fixed_dictionaries({k: v for k, v in properties.items() if k in required},
                                     optional={k: v for k, v in properties.items() if k not in required})
    if kind == "array":
        return st.lists(from_ocpp_schema(node["items"]), min_size=node.get("minItems", 0), max_size=4)
    if kind == "integer":
        return st.integers(node.get("minimum", -2 ** 31), node.get("maximum", 2 ** 31 - 1))
    if kind == "number":
        return st.floats(-1e9, 1e9)
    if kind == "boolean":
        return st.booleans()
    if node.get("format") == "date-time":
        return st.datetimes(datetime(1970, 1, 2), datetime(2200, 1, 1), timezones=st.just(timezone.utc)).map(
            lambda moment: moment.isoformat().replace("+00:00", "Z"))
    return st.text(max_size=node.get("maxLength", 100))


schema_valid_calls = st.sampled_from(ACTIONS).flatmap(
    lambda action: from_ocpp_schema(schemas.schema(action)).map(lambda payload: [2, new_id(""), action, payload]))
shaped_calls = st.builds(lambda unique_id, action, payload: [2, unique_id, action, payload], unique_ids,
                         st.sampled_from(ACTIONS + ["Reset", "Nonsense", ""]) | st.text(max_size=30),
                         st.dictionaries(st.text(max_size=20), json_values, max_size=6) | json_values)
frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    shaped_calls.map(json.dumps),
    schema_valid_calls.map(json.dumps),
    st.integers(1, 30_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(300, 20_000).map(lambda digits: '[2,"big","Heartbeat",{"n":' + "9" * digits + "}]"),
    st.builds(lambda kind, unique_id, rest: json.dumps([kind, unique_id, *rest]), st.sampled_from([3, 4]),
              unique_ids, st.lists(json_values, max_size=4)),
)


def expected_answer(frame: str) -> tuple[bool, str]:
    """Whether a reply must come, and the uniqueId it must carry (independent of the server's code)."""
    try:
        message = json.loads(frame, parse_constant=_not_json)  # RFC 8259 has no NaN or Infinity
    except (ValueError, RecursionError):
        return True, "-1"
    readable_id = isinstance(message, list) and len(message) > 1 and isinstance(message[1], str) \
        and 0 < len(message[1]) <= 36
    if not readable_id:
        return True, "-1"
    if type(message[0]) is int and message[0] in (3, 4):
        return False, ""  # a reply: nothing answers it
    return True, message[1]


def _not_json(constant: str):
    raise ValueError(constant)


class WellBehavedChargePoint(threading.Thread):
    """Runs a transaction with meter values while the fuzzing goes on; records any trouble."""

    def __init__(self, url: str, readings: int):
        super().__init__(daemon=True)
        self.url, self.readings, self.trouble, self.transaction_id = url, readings, [], None

    def call(self, connection, n: int, action: str, payload: dict) -> dict:
        connection.send(json.dumps([2, f"w{n}", action, payload]))
        answer = json.loads(connection.recv(timeout=30))
        if answer[:2] != [3, f"w{n}"]:
            self.trouble.append(answer)
        return answer[2]

    def run(self):
        try:
            with connect(self.url, subprotocols=["ocpp1.6"]) as connection:
                self.call(connection, 0, "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
                started = self.call(connection, 1, "StartTransaction",
                                    {"connectorId": 1, "idTag": "CALM", "meterStart": 0, "timestamp": timestamp()})
                self.transaction_id = started["transactionId"]
                for n in range(self.readings):
                    self.call(connection, n + 2, "MeterValues", {
                        "connectorId": 1, "transactionId": self.transaction_id,
                        "meterValue": [{"timestamp": timestamp(n), "sampledValue": [{"value": str(n * 10)}]}]})
                self.call(connection, 999, "StopTransaction", {"transactionId": self.transaction_id,
                                                               "meterStop": self.readings * 10, "timestamp": timestamp()})
        except Exception as error:  # noqa: BLE001  (recorded for the assertion)
            self.trouble.append(repr(error))


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(request, tmp_path_factory):
    with running_server(request.param, tmp_path_factory, OCPP_RATE_LIMIT=10_000, OCPP_MAX_MESSAGE_SIZE=65536) as server:
        yield server


def test_fuzzed_frames_are_answered_and_nothing_else_suffers(fuzzed):
    bystander = WellBehavedChargePoint(f"{fuzzed.ws_url}/{new_id('CALM')}", readings=40)
    bystander.start()
    fuzzer_url = f"{fuzzed.ws_url}/{new_id('FUZZ')}"
    connections = ExitStack()

    def reconnect():
        return connections.enter_context(connect(fuzzer_url, subprotocols=["ocpp1.6"], max_size=None))

    state = {"connection": reconnect(), "closes": []}

    @settings(max_examples=FRAMES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(frame=frames)
    def answered(frame):
        must_answer, unique_id = expected_answer(frame)
        connection = state["connection"]
        try:
            connection.send(frame)
            answer = connection.recv(timeout=30 if must_answer else 0.2)
        except TimeoutError:
            assert not must_answer, f"no answer to {frame[:200]!r}"
            return
        except ConnectionClosed as closed:
            # Only an oversized frame or invalid UTF-8 may cost the connection.
            assert closed.rcvd is not None and closed.rcvd.code in (1007, 1009), (closed, frame[:200])
            state["closes"].append(closed.rcvd.code)
            state["connection"] = reconnect()
            return
        message = json.loads(answer)
        assert must_answer, f"a reply was answered: {frame[:200]!r} -> {answer[:200]}"
        assert message[1] == unique_id, (frame[:200], answer[:200])
        assert message[0] == 3 or (message[0] == 4 and message[2] in OCPP_16_ERROR_CODES), answer[:300]
        assert not (message[0] == 4 and message[2] == "InternalError"), f"{frame[:300]!r} -> {answer[:300]}"

    with connections:
        answered()
    bystander.join(60)
    assert not bystander.is_alive() and bystander.trouble == []
    assert fuzzed.process.poll() is None, "the server died"
    db = fuzzed.database
    assert db.scalar("SELECT count(*) FROM meter_values WHERE transaction_id = :id", id=bystander.transaction_id) == 40
    assert db.scalar("SELECT meter_stop FROM transactions WHERE id = :id", id=bystander.transaction_id) == 400
