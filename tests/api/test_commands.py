"""Commands end to end: the charge point receives the right action and payload, the HTTP answer carries
its reply; and every way a command can fail."""
import asyncio
import json
import time

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call

from tests.charge_points import connected, new_id, raw_connection, timestamp


async def command(api, path, **body):
    return await api.post(f"/api/commands/{path}", json=body)


async def test_remote_start(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "remote-start", chargePointId=charge_point.id, idTag="RFID123", connectorId=1)
        assert charge_point.received == [("RemoteStartTransaction", {"id_tag": "RFID123", "connector_id": 1})]
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["status"] == "Accepted"
    assert "RemoteStartTransaction" in body["message"]


async def test_a_refusal_is_an_answer_not_an_error(server, api):
    async with connected(server) as charge_point:
        charge_point.replies["RemoteStartTransaction"] = {"status": "Rejected"}
        response = await command(api, "remote-start", chargePointId=charge_point.id, idTag="RFID123")
    assert response.status_code == 200
    assert response.json()["success"] is False and response.json()["status"] == "Rejected"


async def test_remote_stop_by_transaction_id(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "remote-stop", chargePointId=charge_point.id, transactionId=12345)
        assert charge_point.received == [("RemoteStopTransaction", {"transaction_id": 12345})]
    body = response.json()
    assert (body["success"], body["status"], body["transactionId"]) == (True, "Accepted", 12345)


async def test_remote_stop_by_connector_finds_the_running_transaction(server, api):
    async with connected(server) as charge_point:
        started = await charge_point.call(call.StartTransaction(connector_id=2, id_tag="X", meter_start=0,
                                                                timestamp=timestamp()))
        response = await command(api, "remote-stop", chargePointId=charge_point.id, connectorId=2, reason="Completed")
        assert charge_point.received == [("RemoteStopTransaction", {"transaction_id": started.transaction_id})]
        assert response.json()["transactionId"] == started.transaction_id
        nothing = await command(api, "remote-stop", chargePointId=charge_point.id, connectorId=1)
        assert nothing.status_code == 404 and nothing.json()["error"] == "not_found"
        both = await command(api, "remote-stop", chargePointId=charge_point.id, connectorId=1, transactionId=1)
        assert both.status_code == 400


@pytest.mark.parametrize("reset_type", ["Soft", "Hard"])
async def test_reset(server, api, reset_type):
    async with connected(server) as charge_point:
        response = await command(api, "reset", chargePointId=charge_point.id, type=reset_type)
        assert charge_point.received == [("Reset", {"type": reset_type})]
    assert response.json()["success"] is True


async def test_unlock_connector(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "unlock-connector", chargePointId=charge_point.id, connectorId=1)
        charge_point.replies["UnlockConnector"] = {"status": "UnlockFailed"}
        failed = await command(api, "unlock-connector", chargePointId=charge_point.id, connectorId=2)
        assert charge_point.received == [("UnlockConnector", {"connector_id": 1}), ("UnlockConnector", {"connector_id": 2})]
    assert (response.json()["success"], response.json()["status"]) == (True, "Unlocked")
    assert (failed.json()["success"], failed.json()["status"]) == (False, "UnlockFailed")


async def test_get_configuration_by_query_and_by_body(server, api):
    async with connected(server) as charge_point:
        by_query = await api.get("/api/commands/get-configuration",
                                 params={"chargePointId": charge_point.id, "keys": "HeartbeatInterval,NumberOfConnectors"})
        by_body = await command(api, "get-configuration", chargePointId=charge_point.id, keys=["HeartbeatInterval"])
        everything = await api.get("/api/commands/get-configuration", params={"chargePointId": charge_point.id})
        assert charge_point.received == [
            ("GetConfiguration", {"key": ["HeartbeatInterval", "NumberOfConnectors"]}),
            ("GetConfiguration", {"key": ["HeartbeatInterval"]}),
            ("GetConfiguration", {})]
    for response in (by_query, by_body, everything):
        assert response.status_code == 200 and response.json()["success"] is True
        assert {"key": "HeartbeatInterval", "readonly": False, "value": "60"} in response.json()["configurationKey"]


async def test_change_configuration(server, api):
    async with connected(server) as charge_point:
        charge_point.replies["ChangeConfiguration"] = {"status": "RebootRequired"}
        response = await command(api, "change-configuration", chargePointId=charge_point.id, key="HeartbeatInterval",
                                 value="60")
        charge_point.replies["ChangeConfiguration"] = {"status": "NotSupported"}
        refused = await command(api, "change-configuration", chargePointId=charge_point.id, key="Nope", value="1")
        assert charge_point.received[0] == ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})
    assert (response.json()["success"], response.json()["status"]) == (True, "RebootRequired")
    assert (refused.json()["success"], refused.json()["status"]) == (False, "NotSupported")


async def test_clear_cache(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "clear-cache", chargePointId=charge_point.id)
        assert charge_point.received == [("ClearCache", {})]
    assert response.json()["status"] == "Accepted"


@pytest.mark.parametrize("message", ["BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
                                     "Heartbeat", "MeterValues", "StatusNotification"])
async def test_trigger_message(server, api, message):
    async with connected(server) as charge_point:
        response = await command(api, "trigger-message", chargePointId=charge_point.id, requestedMessage=message,
                                 connectorId=1)
        assert charge_point.received == [("TriggerMessage", {"requested_message": message, "connector_id": 1})]
    assert response.json()["success"] is True


async def test_change_availability(server, api):
    async with connected(server) as charge_point:
        charge_point.replies["ChangeAvailability"] = {"status": "Scheduled"}
        response = await command(api, "change-availability", chargePointId=charge_point.id, connectorId=0,
                                 type="Inoperative")
        assert charge_point.received == [("ChangeAvailability", {"connector_id": 0, "type": "Inoperative"})]
    assert (response.json()["success"], response.json()["status"]) == (True, "Scheduled")


async def test_generic_sends_any_action_checked_against_its_schema(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "generic", chargePointId=charge_point.id, action="GetDiagnostics",
                                 payload={"location": "ftp://example.com/diagnostics", "retries": 3})
        invalid = await command(api, "generic", chargePointId=charge_point.id, action="GetDiagnostics",
                                payload={"retries": "three"})
        wrong_direction = await command(api, "generic", chargePointId=charge_point.id, action="Heartbeat", payload={})
        assert charge_point.received == [("GetDiagnostics", {"location": "ftp://example.com/diagnostics", "retries": 3})]
    body = response.json()
    assert body["success"] is True and body["result"] == {"fileName": "diagnostics-2024.log"}
    assert body["fileName"] == "diagnostics-2024.log"
    assert invalid.status_code == 400 and invalid.json()["error"] == "bad_request"
    assert wrong_direction.status_code == 400 and "action" in wrong_direction.json()["details"]["json"]


async def test_unknown_charge_point_is_404(api):
    response = await command(api, "reset", chargePointId=new_id("NOBODY"), type="Soft")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_a_known_charge_point_not_connected_is_409_at_once(server, api):
    async with connected(server) as charge_point:
        await charge_point.call(call.Heartbeat())
    began = time.monotonic()
    response = await command(api, "reset", chargePointId=charge_point.id, type="Soft")
    assert response.status_code == 409 and response.json()["error"] == "not_connected"
    assert time.monotonic() - began < 1


async def test_a_silent_charge_point_is_504_after_the_timeout_and_the_next_command_works(server, api):
    async with raw_connection(server) as connection:
        await connection.exchange([2, "hb", "Heartbeat", {}])
        began = time.monotonic()
        request = asyncio.create_task(command(api, "reset", chargePointId=connection.charge_point_id, type="Soft"))
        unanswered = json.loads(await asyncio.wait_for(connection.connection.recv(), 5))
        response = await request
        elapsed = time.monotonic() - began
        assert response.status_code == 504 and response.json()["error"] == "charge_point_timeout"
        assert 2.5 < elapsed < 6  # the server under test has OCPP_COMMAND_TIMEOUT=3
        # A late answer to the abandoned CALL is dropped; the next command gets its own answer.
        await connection.send([3, unanswered[1], {"status": "Accepted"}])
        request = asyncio.create_task(command(api, "clear-cache", chargePointId=connection.charge_point_id))
        answered = json.loads(await asyncio.wait_for(connection.connection.recv(), 5))
        assert answered[2] == "ClearCache"
        await connection.send([3, answered[1], {"status": "Accepted"}])
        assert (await request).json()["success"] is True


async def test_a_callerror_is_502_with_its_code(server, api):
    async with connected(server) as charge_point:
        charge_point.errors["ClearCache"] = NotSupportedError("no cache here")
        began = time.monotonic()
        response = await command(api, "clear-cache", chargePointId=charge_point.id)
    assert time.monotonic() - began < 2
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "charge_point_error"
    assert body["details"]["errorCode"] == "NotSupported" and body["details"]["errorDescription"] == "no cache here"


async def test_an_invalid_callresult_is_502(server, api):
    # The `ocpp` package refuses to send a reply that breaks the schema, so this charge point is raw.
    async with raw_connection(server) as connection:
        await connection.exchange([2, "hb", "Heartbeat", {}])
        request = asyncio.create_task(command(api, "reset", chargePointId=connection.charge_point_id, type="Soft"))
        reset = json.loads(await asyncio.wait_for(connection.connection.recv(), 5))
        await connection.send([3, reset[1], {"status": "Maybe"}])
        response = await request
    assert response.status_code == 502 and response.json()["error"] == "charge_point_invalid_reply"
    assert "status" in response.json()["details"]["violation"]


async def test_commands_wait_their_turn_one_call_at_a_time(server, api):
    async with raw_connection(server) as connection:
        await connection.exchange([2, "hb", "Heartbeat", {}])
        charge_point_id = connection.charge_point_id
        first = asyncio.create_task(command(api, "clear-cache", chargePointId=charge_point_id))
        second = asyncio.create_task(command(api, "reset", chargePointId=charge_point_id, type="Hard"))
        call_1 = json.loads(await asyncio.wait_for(connection.connection.recv(), 5))
        # The second CALL must not come while the first is unanswered.
        assert await connection.nothing_within(0.7)
        await connection.send([3, call_1[1], {"status": "Accepted"}])
        call_2 = json.loads(await asyncio.wait_for(connection.connection.recv(), 5))
        await connection.send([3, call_2[1], {"status": "Accepted"}])
        responses = await asyncio.gather(first, second)
    assert {call_1[2], call_2[2]} == {"ClearCache", "Reset"}
    assert [response.status_code for response in responses] == [200, 200]


async def test_every_command_and_its_outcome_is_logged(server, api):
    async with connected(server) as charge_point:
        await command(api, "reset", chargePointId=charge_point.id, type="Hard")
        charge_point.silent.add("ClearCache")
        await command(api, "clear-cache", chargePointId=charge_point.id)
    logs = (await api.get("/api/logs", params={"chargePointId": charge_point.id})).json()
    by_event = {entry["event"]: entry for entry in logs}
    assert "Reset accepted" in by_event["command"]["message"]
    assert by_event["command"]["details"]["payload"] == {"type": "Hard"}
    assert by_event["command_failed"]["level"] == "WARNING" and "ClearCache" in by_event["command_failed"]["message"]


@pytest.mark.parametrize("body, field", [
    ({"type": "Soft"}, "chargePointId"),
    ({"chargePointId": "CP", "type": "Gentle"}, "type"),
    ({"chargePointId": "CP", "type": "Soft", "colour": "red"}, "colour"),
    ({"chargePointId": 7, "type": "Soft"}, "chargePointId"),
])
async def test_bad_bodies_are_400_with_the_field(api, body, field):
    response = await api.post("/api/commands/reset", json=body)
    assert response.status_code == 400
    assert field in response.json()["details"]["json"]


async def test_wrong_types_and_non_json_bodies_are_400(api):
    typed = await command(api, "unlock-connector", chargePointId="CP", connectorId="1")
    assert typed.status_code == 400 and "connectorId" in typed.json()["details"]["json"]
    garbage = await api.post("/api/commands/reset", content=b"chargePointId=CP", headers={"Content-Type": "text/plain"})
    assert garbage.status_code == 400 and garbage.json()["error"] == "bad_request"
