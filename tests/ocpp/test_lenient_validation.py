"""Lenient validation, server-wide (OCPP_VALIDATION=lenient) and per charge point: small violations are
logged with the frame and processed; what cannot be mended is still refused."""
import pytest

from tests.charge_points import new_id, raw_connection
from tests.conftest import running_server

SLOPPY_STATUS = {"connectorId": "1", "errorCode": "noError", "status": "CHARGING", "info": "i" * 80,
                 "timestamp": "2024-05-01T10:00:00", "firmwareBuild": "x"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def lenient_server(request, tmp_path_factory):
    with running_server(request.param, tmp_path_factory, OCPP_VALIDATION="lenient") as server:
        yield server


async def test_a_sloppy_frame_is_processed_and_logged(lenient_server):
    db, charge_point_id = lenient_server.database, new_id()
    async with raw_connection(lenient_server, charge_point_id) as connection:
        assert await connection.exchange([2, "s1", "StatusNotification", SLOPPY_STATUS]) == [3, "s1", {}]
    row = db.rows("SELECT * FROM connectors WHERE charge_point_id = :id", id=charge_point_id)[0]
    assert (row["connector_id"], row["status"], row["error_code"], row["info"]) == (1, "Charging", "NoError", "i" * 50)
    logged = db.rows("SELECT * FROM system_logs WHERE charge_point_id = :id AND event = 'frame_repaired'",
                     id=charge_point_id)
    assert len(logged) == 1 and logged[0]["level"] == "WARNING"
    assert "firmwareBuild" in logged[0]["message"] and "CHARGING" in str(logged[0]["details"])


async def test_what_cannot_be_mended_is_still_refused(lenient_server):
    async with raw_connection(lenient_server) as connection:
        reply = await connection.exchange([2, "s2", "StatusNotification", {"errorCode": "NoError", "status": "Nap"}])
        assert reply[:3] == [4, "s2", "OccurenceConstraintViolation"]


async def test_a_charge_point_can_be_lenient_on_a_strict_server(server, db):
    charge_point_id = new_id()
    async with raw_connection(server, charge_point_id) as connection:
        assert (await connection.exchange([2, "a", "StatusNotification", SLOPPY_STATUS]))[0] == 4
    db.execute("UPDATE charge_points SET validation_mode = 'lenient' WHERE id = :id", id=charge_point_id)
    async with raw_connection(server, charge_point_id) as connection:
        assert await connection.exchange([2, "b", "StatusNotification", SLOPPY_STATUS]) == [3, "b", {}]
    assert db.scalar("SELECT status FROM connectors WHERE charge_point_id = :id", id=charge_point_id) == "Charging"


async def test_a_lenient_server_accepts_a_charge_point_without_the_subprotocol(lenient_server):
    import websockets
    async with websockets.connect(f"{lenient_server.ws_url}/{new_id()}") as connection:
        await connection.send('[2,"h","Heartbeat",{}]')
        assert (await connection.recv()).startswith('[3,"h"')
