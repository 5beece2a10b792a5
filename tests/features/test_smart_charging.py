"""Smart Charging: profiles checked, stored, numbered and sent; cleared; the composite schedule returned;
and idTag groups (parentIdTag) for ConcurrentTx (at StartTransaction) where configured."""
import httpx
import pytest
from ocpp.v16 import call

from tests.charge_points import connected, new_id, timestamp
from tests.conftest import running_server


def profile(purpose="TxDefaultProfile", kind="Absolute", stack_level=0, periods=((0, 16.0), (3600, 10.0)), **extra):
    schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": start, "limit": limit}
                                                                     for start, limit in periods]}
    if kind != "Relative":
        schedule["startSchedule"] = "2030-01-01T00:00:00Z"
    return {"stackLevel": stack_level, "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
            "chargingSchedule": schedule, **extra}


async def set_profile(api, charge_point_id, connector_id=1, **profile_fields):
    return await api.post("/api/commands/set-charging-profile", json={
        "chargePointId": charge_point_id, "connectorId": connector_id, "csChargingProfiles": profile(**profile_fields)})


async def test_set_store_replace_and_clear(server, api):
    async with connected(server) as charge_point:
        first = await set_profile(api, charge_point.id, periods=((0, 21.44), (1800, 8.0)))
        stored = first.json()["chargingProfile"]
        sent = await charge_point.wait_for_call("SetChargingProfile")
        assert first.json()["success"] is True and stored["status"] == "Accepted"
        assert sent["cs_charging_profiles"]["charging_profile_id"] == stored["chargingProfileId"]
        limits = [float(period["limit"]) for period in sent["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"]]
        assert limits == [21.4, 8.0]  # one decimal, as the 1.6 schema wants
        second = (await set_profile(api, charge_point.id)).json()["chargingProfile"]
        charge_point.replies["SetChargingProfile"] = {"status": "Rejected"}
        rejected = (await set_profile(api, charge_point.id, stack_level=1)).json()
        assert rejected["success"] is False and rejected["chargingProfile"]["status"] == "Rejected"
        cleared = await api.post("/api/commands/clear-charging-profile",
                                 json={"chargePointId": charge_point.id, "id": second["chargingProfileId"]})
        assert cleared.json()["status"] == "Accepted"
        assert await charge_point.wait_for_call("ClearChargingProfile") == {"id": second["chargingProfileId"]}
    statuses = {item["chargingProfileId"]: item["status"] for item in
                (await api.get("/api/charging-profiles", params={"chargePointId": charge_point.id})).json()}
    assert statuses == {stored["chargingProfileId"]: "Replaced", second["chargingProfileId"]: "Cleared",
                        rejected["chargingProfile"]["chargingProfileId"]: "Rejected"}


async def test_tx_profile_without_transaction_id_is_sent_and_answered(server, api):
    """OCPP 1.6 makes transactionId optional: the charge point applies the TxProfile to the transaction
    running on the connector, or rejects it; the API reports its answer."""
    async with connected(server) as charge_point:
        charge_point.replies["SetChargingProfile"] = {"status": "Rejected"}
        rejected = await set_profile(api, charge_point.id, purpose="TxProfile")
        sent = await charge_point.wait_for_call("SetChargingProfile")
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["success"] is False and rejected.json()["chargingProfile"]["status"] == "Rejected"
        assert sent["connector_id"] == 1 and "transaction_id" not in sent["cs_charging_profiles"]
        charge_point.replies["SetChargingProfile"] = {"status": "Accepted"}
        accepted = (await set_profile(api, charge_point.id, purpose="TxProfile", stack_level=2)).json()
        assert accepted["success"] is True and accepted["chargingProfile"]["transactionId"] is None
        on_connector_0 = await set_profile(api, charge_point.id, connector_id=0, purpose="TxProfile")
        assert on_connector_0.status_code == 400 and "connectorId" in on_connector_0.json()["details"]


async def test_tx_profile_with_transaction_id_needs_that_transaction_running(server, api):
    async with connected(server) as charge_point:
        not_running = await set_profile(api, charge_point.id, purpose="TxProfile", transactionId=2_000_000_000)
        assert not_running.status_code == 400
        started = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="X", meter_start=0,
                                                                timestamp=timestamp()))
        ok = await set_profile(api, charge_point.id, purpose="TxProfile", transactionId=started.transaction_id)
        assert ok.status_code == 200 and ok.json()["chargingProfile"]["transactionId"] == started.transaction_id


@pytest.mark.parametrize("connector_id, fields, field", [
    (1, {"purpose": "ChargePointMaxProfile"}, "connectorId"),
    (1, {"periods": ((0, 16.0), (0, 8.0))}, "chargingSchedulePeriod"),
    (1, {"periods": ((60, 16.0),)}, "chargingSchedulePeriod"),
    (1, {"kind": "Recurring"}, "recurrencyKind"),
    (1, {"validFrom": "2030-01-02T00:00:00Z", "validTo": "2030-01-01T00:00:00Z"}, "validTo"),
])
async def test_profiles_breaking_the_rules_are_refused_before_sending(server, api, connector_id, fields, field):
    async with connected(server) as charge_point:
        response = await set_profile(api, charge_point.id, connector_id, **fields)
        assert response.status_code == 400 and field in response.json()["details"]
        assert charge_point.received == []


async def test_the_composite_schedule_round_trips(server, api):
    schedule = {"charging_rate_unit": "W", "duration": 7200, "start_schedule": "2030-01-01T00:00:00Z",
                "charging_schedule_period": [{"start_period": 0, "limit": 11000.0}, {"start_period": 3600, "limit": 7400.0}]}
    async with connected(server) as charge_point:
        charge_point.replies["GetCompositeSchedule"] = {"status": "Accepted", "connector_id": 1,
                                                        "schedule_start": "2030-01-01T00:00:00Z",
                                                        "charging_schedule": schedule}
        response = await api.post("/api/commands/get-composite-schedule",
                                  json={"chargePointId": charge_point.id, "connectorId": 1, "duration": 7200,
                                        "chargingRateUnit": "W"})
        assert await charge_point.wait_for_call("GetCompositeSchedule") == {"connector_id": 1, "duration": 7200,
                                                                            "charging_rate_unit": "W"}
    body = response.json()
    assert body["success"] is True and body["scheduleStart"] == "2030-01-01T00:00:00Z"
    assert body["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 11000.0},
                                                                  {"startPeriod": 3600, "limit": 7400.0}]


async def test_remote_start_with_a_tx_profile(server, api):
    async with connected(server) as charge_point:
        response = await api.post("/api/commands/remote-start", json={
            "chargePointId": charge_point.id, "idTag": "RFID123", "connectorId": 1,
            "chargingProfile": profile(purpose="TxProfile", kind="Relative")})
        sent = await charge_point.wait_for_call("RemoteStartTransaction")
    assert response.status_code == 200, response.text
    assert sent["charging_profile"]["charging_profile_id"] == response.json()["chargingProfile"]["chargingProfileId"]
    assert response.json()["chargingProfile"]["status"] == "Accepted"


async def test_remote_start_with_a_tx_profile_and_no_connector(server, api):
    """Both fields are optional and independent: the charge point picks the connector and applies the
    TxProfile to the transaction it starts."""
    async with connected(server) as charge_point:
        response = await api.post("/api/commands/remote-start", json={
            "chargePointId": charge_point.id, "idTag": "RFID123",
            "chargingProfile": profile(purpose="TxProfile", kind="Relative")})
        sent = await charge_point.wait_for_call("RemoteStartTransaction")
        assert response.status_code == 200, response.text
        assert "connector_id" not in sent and sent["charging_profile"]["charging_profile_purpose"] == "TxProfile"
        stored = response.json()["chargingProfile"]
        assert stored["connectorId"] is None and stored["status"] == "Accepted"
        assert sent["charging_profile"]["charging_profile_id"] == stored["chargingProfileId"]
        not_a_tx_profile = await api.post("/api/commands/remote-start", json={
            "chargePointId": charge_point.id, "idTag": "RFID123", "chargingProfile": profile()})
        assert not_a_tx_profile.status_code == 400 and "chargingProfilePurpose" in not_a_tx_profile.json()["details"]
    listed = (await api.get("/api/charging-profiles", params={"chargePointId": charge_point.id})).json()
    assert [(item["chargingProfileId"], item["connectorId"]) for item in listed] == [(stored["chargingProfileId"], None)]


async def test_concurrent_tx_for_a_group_where_configured(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, OCPP_CONCURRENT_TX_PER_GROUP="true") as server:
        group, first, second = f"G-{new_id('')[-6:]}", new_id("")[-10:], new_id("")[-10:]
        async with httpx.AsyncClient(base_url=server.api_url) as api:
            for tag in (first, second):
                await api.post("/api/authorizations", json={"idTag": tag, "parentIdTag": group})
        async with connected(server) as charge_point:
            await charge_point.call(call.StartTransaction(connector_id=1, id_tag=first, meter_start=0, timestamp=timestamp()))
            answer = await charge_point.call(call.StartTransaction(connector_id=2, id_tag=second, meter_start=0,
                                                                   timestamp=timestamp()))
            assert answer.id_tag_info == {"status": "ConcurrentTx", "parent_id_tag": group}
            # Authorize never answers ConcurrentTx: the group's other card may stop the session
            authorized = await charge_point.call(call.Authorize(id_tag=second))
            assert authorized.id_tag_info == {"status": "Accepted", "parent_id_tag": group}


async def test_without_the_setting_a_group_does_not_share_transactions(server, api):
    group, first, second = f"G-{new_id('')[-6:]}", new_id("")[-10:], new_id("")[-10:]
    for tag in (first, second):
        await api.post("/api/authorizations", json={"idTag": tag, "parentIdTag": group})
    async with connected(server) as charge_point:
        await charge_point.call(call.StartTransaction(connector_id=1, id_tag=first, meter_start=0, timestamp=timestamp()))
        started = await charge_point.call(call.StartTransaction(connector_id=2, id_tag=second, meter_start=0,
                                                                timestamp=timestamp()))
        assert started.id_tag_info["status"] == "Accepted"
        again = await charge_point.call(call.StartTransaction(connector_id=3, id_tag=first, meter_start=0,
                                                              timestamp=timestamp()))
        assert again.id_tag_info["status"] == "ConcurrentTx"
