"""The one recorded-command policy: a command that keeps a record (reservation, charging profile, file
transfer request, local list, DataTransfer) keeps the same one whether the typed endpoint or the generic
command sent it; not sent (not connected) leaves none; sent without a valid answer (no answer in time, a
CALLERROR) leaves it Failed."""
import json

import pytest
from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import NotSupportedError

from tests.charge_points import connected, new_id, timestamp

PROFILE = {"stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
           "chargingSchedule": {"chargingRateUnit": "A", "startSchedule": "2030-01-01T00:00:00Z",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}

# action -> (typed endpoint, its body, SQL of the records it keeps for :cp, the id the CALL is numbered by)
TYPED = {
    "GetDiagnostics": ("get-diagnostics", {"location": "ftp://example.com/up", "retries": 2},
                       "SELECT id, kind, location, retries, file_name, status FROM file_transfer_requests "
                       "WHERE charge_point_id = :cp", None),
    "ReserveNow": ("reserve-now", {"connectorId": 1, "idTag": "HOLDER-G", "expiryDate": timestamp(3600)},
                   "SELECT id, connector_id, id_tag, parent_id_tag, expiry_date, status FROM reservations "
                   "WHERE charge_point_id = :cp", "reservation_id"),
    "SetChargingProfile": ("set-charging-profile", {"connectorId": 1, "csChargingProfiles": PROFILE},
                           "SELECT id, connector_id, stack_level, purpose, kind, schedule, status "
                           "FROM charging_profiles WHERE charge_point_id = :cp", "charging_profile_id"),
    "SendLocalList": ("send-local-list", {"updateType": "Full"},
                      "SELECT e.id_tag, e.status, e.expiry_date, e.parent_id_tag, c.local_list_version "
                      "FROM local_list_entries e JOIN charge_points c ON c.id = e.charge_point_id "
                      "WHERE e.charge_point_id = :cp ORDER BY e.id_tag", None),
}


def records(db, sql: str, charge_point_id: str) -> list[dict]:
    """The records, without their own id (numbered apart for each charge point)."""
    return [{key: value for key, value in row.items() if key != "id"} for row in db.rows(sql, cp=charge_point_id)]


def as_written(received: dict) -> dict:
    """A payload the simulator received (snake_case, decimals as Decimal) as a client writes it."""
    return json.loads(json.dumps(snake_to_camel_case(received), default=float))


def numbered_by(payload: dict, id_field: str | None):
    if id_field == "charging_profile_id":
        return payload["cs_charging_profiles"]["charging_profile_id"]
    return payload.get(id_field) if id_field else None


@pytest.mark.parametrize("action", sorted(TYPED))
async def test_the_generic_command_keeps_the_records_of_the_typed_one(server, api, db, action):
    endpoint, body, sql, id_field = TYPED[action]
    await api.post("/api/authorizations", json={"idTag": "HOLDER-G"})
    async with connected(server) as typed, connected(server) as generic:
        by_type = await api.post(f"/api/commands/{endpoint}", json={"chargePointId": typed.id, **body})
        sent = await typed.wait_for_call(action)
        # the generic command sends what the typed endpoint sent, as a client would write it
        by_generic = await api.post("/api/commands/generic", json={
            "chargePointId": generic.id, "action": action, "payload": as_written(sent)})
        sent_generic = await generic.wait_for_call(action)
    assert by_type.status_code == by_generic.status_code == 200, (by_type.text, by_generic.text)
    assert by_generic.json()["success"] is True and by_generic.json()["result"] == \
        {key: value for key, value in by_type.json().items() if key in by_generic.json()["result"]}
    kept_by_type, kept_by_generic = records(db, sql, typed.id), records(db, sql, generic.id)
    assert kept_by_type and kept_by_generic == kept_by_type
    if id_field:  # numbered by its own record, as the typed endpoint numbers it
        stored_ids = [row["id"] for row in db.rows(sql, cp=generic.id)]
        assert stored_ids == [numbered_by(sent_generic, id_field)]


async def test_the_generic_command_changes_records_as_the_typed_one(server, api, db):
    async with connected(server) as charge_point:
        reserved = await api.post("/api/commands/reserve-now", json={
            "chargePointId": charge_point.id, "connectorId": 1, "idTag": "HOLDER-G", "expiryDate": timestamp(3600)})
        profile = await api.post("/api/commands/set-charging-profile", json={
            "chargePointId": charge_point.id, "connectorId": 1, "csChargingProfiles": PROFILE})
        reservation_id = reserved.json()["reservation"]["reservationId"]
        cancelled = await api.post("/api/commands/generic", json={
            "chargePointId": charge_point.id, "action": "CancelReservation",
            "payload": {"reservationId": reservation_id}})
        cleared = await api.post("/api/commands/generic", json={
            "chargePointId": charge_point.id, "action": "ClearChargingProfile", "payload": {"connectorId": 1}})
    assert cancelled.status_code == cleared.status_code == profile.status_code == 200
    assert db.scalar("SELECT status FROM reservations WHERE id = :id", id=reservation_id) == "Cancelled"
    cleared_status = db.scalar("SELECT status FROM charging_profiles WHERE charge_point_id = :cp", cp=charge_point.id)
    assert cleared_status == "Cleared"


NOT_CONNECTED = [
    ("reserve-now", {"connectorId": 1, "idTag": "HOLDER-G", "expiryDate": timestamp(3600)},
     "SELECT count(*) FROM reservations WHERE charge_point_id = :cp"),
    ("set-charging-profile", {"connectorId": 1, "csChargingProfiles": PROFILE},
     "SELECT count(*) FROM charging_profiles WHERE charge_point_id = :cp"),
    ("remote-start", {"idTag": "HOLDER-G", "connectorId": 1, "chargingProfile": {
        **PROFILE, "chargingProfilePurpose": "TxProfile"}},
     "SELECT count(*) FROM charging_profiles WHERE charge_point_id = :cp"),
    ("get-diagnostics", {"location": "ftp://example.com/up"},
     "SELECT count(*) FROM file_transfer_requests WHERE charge_point_id = :cp"),
    ("get-log", {"logType": "SecurityLog", "remoteLocation": "ftp://example.com/up"},
     "SELECT count(*) FROM file_transfer_requests WHERE charge_point_id = :cp"),
    ("data-transfer", {"vendorId": "com.example"},
     "SELECT count(*) FROM data_transfer_messages WHERE charge_point_id = :cp"),
]


@pytest.mark.parametrize("endpoint, body, count_sql", NOT_CONNECTED, ids=[row[0] for row in NOT_CONNECTED])
async def test_not_connected_is_409_and_keeps_no_record(server, api, db, endpoint, body, count_sql):
    charge_point_id = new_id()
    assert (await api.post("/api/charge-points", json={"id": charge_point_id})).status_code == 201
    response = await api.post(f"/api/commands/{endpoint}", json={"chargePointId": charge_point_id, **body})
    assert response.status_code == 409 and response.json()["error"] == "not_connected"
    assert db.scalar(count_sql, cp=charge_point_id) == 0


async def test_a_generic_command_not_connected_keeps_no_record_either(server, api, db):
    charge_point_id = new_id()
    assert (await api.post("/api/charge-points", json={"id": charge_point_id})).status_code == 201
    response = await api.post("/api/commands/generic", json={
        "chargePointId": charge_point_id, "action": "ReserveNow",
        "payload": {"connectorId": 1, "idTag": "HOLDER-G", "expiryDate": timestamp(3600), "reservationId": 1}})
    assert response.status_code == 409
    assert db.scalar("SELECT count(*) FROM reservations WHERE charge_point_id = :cp", cp=charge_point_id) == 0


async def test_no_answer_in_time_leaves_the_record_failed(server, api, db):
    async with connected(server) as charge_point:
        charge_point.silent.add("ReserveNow")
        response = await api.post("/api/commands/reserve-now", json={
            "chargePointId": charge_point.id, "connectorId": 1, "idTag": "HOLDER-G", "expiryDate": timestamp(3600)})
        assert response.status_code == 504
    statuses = db.rows("SELECT status FROM reservations WHERE charge_point_id = :cp", cp=charge_point.id)
    assert [row["status"] for row in statuses] == ["Failed"]


async def test_a_callerror_leaves_the_record_failed(server, api, db):
    async with connected(server) as charge_point:
        charge_point.errors["GetDiagnostics"] = NotSupportedError("no diagnostics here")
        generic = await api.post("/api/commands/generic", json={
            "chargePointId": charge_point.id, "action": "GetDiagnostics", "payload": {"location": "ftp://x/y"}})
        charge_point.errors["SetChargingProfile"] = NotSupportedError("no smart charging here")
        typed = await api.post("/api/commands/set-charging-profile", json={
            "chargePointId": charge_point.id, "connectorId": 1, "csChargingProfiles": PROFILE})
    assert generic.status_code == typed.status_code == 502
    assert db.scalar("SELECT status FROM file_transfer_requests WHERE charge_point_id = :cp",
                     cp=charge_point.id) == "Failed"
    assert db.scalar("SELECT status FROM charging_profiles WHERE charge_point_id = :cp", cp=charge_point.id) == "Failed"


async def test_a_callerror_to_send_local_list_makes_the_next_sync_full(server, api, db):
    async with connected(server) as charge_point:
        await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        assert db.scalar("SELECT local_list_version FROM charge_points WHERE id = :cp", cp=charge_point.id) == 1
        charge_point.errors["SendLocalList"] = NotSupportedError("busy")
        failed = await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id,
                                                                       "updateType": "Full"})
        assert failed.status_code == 502
        assert db.scalar("SELECT local_list_version FROM charge_points WHERE id = :cp", cp=charge_point.id) is None
        del charge_point.errors["SendLocalList"]
        charge_point.received.clear()
        await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        assert (await charge_point.wait_for_call("SendLocalList"))["update_type"] == "Full"
