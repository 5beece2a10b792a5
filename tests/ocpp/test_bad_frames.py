"""Frames that break OCPP-J: each gets the CALLERROR the spec names (or a logged drop), and the
connection stays up."""
import pytest

from tests.charge_points import raw_connection
from tests.conftest import running_server

HEARTBEAT = [2, "hb", "Heartbeat", {}]
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


@pytest.mark.parametrize("frame, answer", [
    ("this is not json", [4, "-1", "FormationViolation"]),
    ('{"not": "an array"}', [4, "-1", "FormationViolation"]),
    ('[2, "n1", "Heartbeat", NaN]', [4, "-1", "FormationViolation"]),
    ([7, "t1", "Heartbeat", {}], [4, "t1", "PropertyConstraintViolation"]),
    ([2, "c1", "Heartbeat"], [4, "c1", "ProtocolError"]),
    ([2, "u1", "MakeCoffee", {}], [4, "u1", "NotImplemented"]),
    ([2, "u2", "RemoteStartTransaction", {"idTag": "X"}], [4, "u2", "NotSupported"]),
    ([2, "s1", "StatusNotification", {**STATUS, "connectorId": "one"}], [4, "s1", "TypeConstraintViolation"]),
    ([2, "s2", "StatusNotification", {"errorCode": "NoError", "status": "Available"}],
     [4, "s2", "OccurenceConstraintViolation"]),
    ([2, "s3", "StatusNotification", {**STATUS, "status": "Sleeping"}], [4, "s3", "PropertyConstraintViolation"]),
    ([2, "s4", "StatusNotification", {**STATUS, "extra": True}], [4, "s4", "FormationViolation"]),
    ([2, "s5", "StatusNotification", {**STATUS, "info": "i" * 51}], [4, "s5", "TypeConstraintViolation"]),
    ([2, "b1", "BootNotification", {"chargePointVendor": "V"}], [4, "b1", "OccurenceConstraintViolation"]),
    # date-times of the right pattern that are no moment (the format rule), not an InternalError
    ([2, "s6", "StatusNotification", {**STATUS, "timestamp": "0001-01-01T00:00:00+01:00"}],
     [4, "s6", "PropertyConstraintViolation"]),
    ([2, "s7", "StatusNotification", {**STATUS, "timestamp": "2026-02-30T00:00:00Z"}],
     [4, "s7", "PropertyConstraintViolation"]),
])
async def test_each_bad_frame_gets_its_callerror_and_the_connection_stays_up(server, db, frame, answer):
    async with raw_connection(server) as connection:
        reply = await connection.exchange(frame)
        assert reply[:3] == answer
        assert isinstance(reply[3], str) and reply[3] and isinstance(reply[4], dict)
        assert (await connection.exchange(HEARTBEAT))[0] == 3


async def test_rejected_frames_are_in_the_system_log_with_the_frame(server, db):
    async with raw_connection(server, "BADLOG-" + server.database.kind) as connection:
        await connection.exchange([2, "s9", "StatusNotification", {**STATUS, "status": "Sleeping"}])
    logged = db.rows("SELECT * FROM system_logs WHERE charge_point_id = :id AND event = 'frame_rejected'",
                     id="BADLOG-" + server.database.kind)[-1]
    assert logged["level"] == "WARNING"
    assert "PropertyConstraintViolation" in logged["message"]
    assert "Sleeping" in str(logged["details"])


async def test_replies_to_no_call_are_dropped_and_logged(server, db):
    charge_point_id = "DROP-" + server.database.kind
    async with raw_connection(server, charge_point_id) as connection:
        await connection.send([3, "never-sent", {}])
        await connection.send([4, "never-sent-either", "InternalError", "", {}])
        await connection.send([3, "malformed"])
        assert await connection.nothing_within(0.5)
        assert (await connection.exchange(HEARTBEAT))[0] == 3
    assert db.scalar("SELECT count(*) FROM system_logs WHERE charge_point_id = :id AND event = 'frame_dropped'",
                     id=charge_point_id) == 3


@pytest.mark.parametrize("backend_kind", ["sqlite", "postgres"])
async def test_a_database_failure_gets_internal_error_not_a_hang(tmp_path_factory, backend_kind):
    with running_server(backend_kind, tmp_path_factory) as broken:
        broken.database.execute("DROP TABLE data_transfer_messages")
        async with raw_connection(broken) as connection:
            reply = await connection.exchange([2, "d1", "DataTransfer", {"vendorId": "x"}], timeout=15)
            assert reply[:3] == [4, "d1", "InternalError"]
            # The failure is the database's, not the connection's: the rest still works.
            assert (await connection.exchange(HEARTBEAT))[0] == 3
        assert broken.database.scalar("SELECT count(*) FROM system_logs WHERE event = 'call_failed'") == 1
