"""Local Auth List Management: Full and Differential SendLocalList from the authorizations, versions
tracked per charge point, GetLocalListVersion, and the sync endpoint."""
import asyncio

from tests.charge_points import connected, fleet, new_id


async def add_tag(api, id_tag, **fields):
    response = await api.post("/api/authorizations", json={"idTag": id_tag, **fields})
    assert response.status_code in (200, 201), response.text


def entries_by_tag(payload: dict) -> dict:
    return {entry["id_tag"]: entry.get("id_tag_info") for entry in payload["local_authorization_list"]}


async def test_a_differential_sync_sends_exactly_the_changes(server, api):
    prefix = new_id("")[-6:]
    a, b, c, d = (f"{prefix}-{letter}" for letter in "ABCD")
    await add_tag(api, a)
    await add_tag(api, b, parentIdTag=f"{prefix}-GROUP")
    await add_tag(api, c, expiryDate="2031-05-01T00:00:00Z")
    async with connected(server) as charge_point:
        first = await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        full = await charge_point.wait_for_call("SendLocalList")
        assert first.json()["success"] is True and "Full" in first.json()["message"]
        assert full["update_type"] == "Full" and full["list_version"] == 1
        sent = entries_by_tag(full)
        assert sent[a] == {"status": "Accepted"}
        assert sent[b] == {"status": "Accepted", "parent_id_tag": f"{prefix}-GROUP"}
        assert sent[c] == {"status": "Accepted", "expiry_date": "2031-05-01T00:00:00.000Z"}

        await add_tag(api, b, status="Blocked", parentIdTag=f"{prefix}-GROUP")
        assert (await api.delete("/api/authorizations", params={"idTag": c})).status_code == 200
        await add_tag(api, d)
        charge_point.received.clear()
        await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        differential = await charge_point.wait_for_call("SendLocalList")
        assert differential["update_type"] == "Differential" and differential["list_version"] == 2
        assert entries_by_tag(differential) == {b: {"status": "Blocked", "parent_id_tag": f"{prefix}-GROUP"},
                                                d: {"status": "Accepted"}, c: None}  # None: removed

        charge_point.received.clear()
        nothing = await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        assert nothing.json()["success"] is True and "up to date" in nothing.json()["message"]
        assert charge_point.received == []


async def test_version_mismatch_falls_back_to_a_full_update(server, api):
    await add_tag(api, new_id("")[-8:])
    async with connected(server) as charge_point:
        await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        await add_tag(api, new_id("")[-8:])
        charge_point.replies["SendLocalList"] = {"status": "VersionMismatch"}
        charge_point.received.clear()
        response = await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        kinds = [payload["update_type"] for action, payload in charge_point.received if action == "SendLocalList"]
    assert kinds == ["Differential", "Full"]
    assert response.json()["status"] == "VersionMismatch" and response.json()["success"] is False


async def test_a_charge_point_reporting_another_version_gets_a_full_update(server, api):
    await add_tag(api, new_id("")[-8:])
    async with connected(server) as charge_point:
        await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})  # version 1
        charge_point.replies["GetLocalListVersion"] = {"list_version": 0}  # it lost its list
        reported = await api.post("/api/commands/get-local-list-version", json={"chargePointId": charge_point.id})
        assert reported.json()["listVersion"] == 0
        await add_tag(api, new_id("")[-8:])
        charge_point.received.clear()
        await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        resent = await charge_point.wait_for_call("SendLocalList")
    assert resent["update_type"] == "Full" and resent["list_version"] == 1


async def test_not_supported_and_the_sync_of_every_connected_charge_point(server, api):
    async with connected(server) as willing, connected(server) as unable:
        unable.replies["SendLocalList"] = {"status": "NotSupported"}
        response = await api.post("/api/local-list/sync", json={})
        results = {result["chargePointId"]: result for result in response.json()}
    assert results[willing.id]["success"] is True and results[willing.id]["status"] == "Accepted"
    assert results[unable.id]["success"] is False and results[unable.id]["status"] == "NotSupported"


async def report_configuration(api, charge_point, **values):
    charge_point.replies["GetConfiguration"] = {"configuration_key": [
        {"key": key, "readonly": True, "value": str(value)} for key, value in values.items()]}
    response = await api.get("/api/commands/get-configuration", params={"chargePointId": charge_point.id})
    assert response.json()["success"] is True, response.text


async def test_a_list_longer_than_send_local_list_max_length_goes_in_several_messages(server, api):
    for _ in range(3):
        await add_tag(api, new_id("")[-8:])
    every_tag = {tag["idTag"] for tag in (await api.get("/api/authorizations")).json()}
    async with connected(server) as charge_point:
        await report_configuration(api, charge_point, SendLocalListMaxLength=2, LocalAuthListMaxLength=100000)
        response = await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        sent = [payload for action, payload in charge_point.received if action == "SendLocalList"]

        assert response.json()["success"] is True
        assert len(sent) == (len(every_tag) + 1) // 2 >= 2
        assert [payload["update_type"] for payload in sent] == ["Full"] + ["Differential"] * (len(sent) - 1)
        assert [payload["list_version"] for payload in sent] == list(range(1, len(sent) + 1))
        assert all(len(payload["local_authorization_list"]) <= 2 for payload in sent)
        assert set().union(*(entries_by_tag(payload) for payload in sent)) == every_tag
        assert f"message {len(sent)} of {len(sent)}" in response.json()["message"]

        charge_point.received.clear()  # every part was remembered: nothing left to send
        again = await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        assert "up to date" in again.json()["message"] and charge_point.received == []


async def test_a_list_longer_than_local_auth_list_max_length_is_refused_before_sending(server, api):
    await add_tag(api, new_id("")[-8:])
    await add_tag(api, new_id("")[-8:])
    async with connected(server) as charge_point:
        await report_configuration(api, charge_point, LocalAuthListMaxLength=1)
        response = await api.post("/api/commands/send-local-list", json={"chargePointId": charge_point.id})
        assert response.status_code == 409
        assert "LocalAuthListMaxLength" in response.json()["message"]
        assert [action for action, _ in charge_point.received if action == "SendLocalList"] == []


async def test_the_sync_of_every_connected_charge_point_runs_side_by_side(server, api):
    async with fleet(server, 4) as charge_points:
        # None answers before all four have their CALL: one after the other, the first would time out
        # (OCPP_COMMAND_TIMEOUT) before the second is sent.
        everyone_asked = asyncio.Event()
        for charge_point in charge_points:
            charge_point.gates["SendLocalList"] = everyone_asked
        request = asyncio.create_task(api.post("/api/local-list/sync", json={"updateType": "Full"}))
        await asyncio.gather(*(cp.wait_for_call("SendLocalList") for cp in charge_points))
        everyone_asked.set()
        results = {result["chargePointId"]: result for result in (await request).json()}
    assert all(results[cp.id]["success"] is True for cp in charge_points), results
