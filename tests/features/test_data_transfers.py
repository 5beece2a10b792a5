"""DataTransfer both ways is visible: GET /api/charge-points/:id/data-transfers (newest first, paged) and a
system log line for each, naming vendorId and messageId."""
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call

from tests.charge_points import connected


async def test_data_transfers_both_ways_are_listed_newest_first_and_logged(server, api):
    async with connected(server) as charge_point:
        await charge_point.call(call.DataTransfer(vendor_id="com.acme", message_id="meter", data='{"kWh": 3}'))
        charge_point.replies["DataTransfer"] = {"status": "Accepted", "data": "pong"}
        sent = await api.post("/api/commands/data-transfer", json={
            "chargePointId": charge_point.id, "vendorId": "com.example", "messageId": "ping", "data": "{}"})
        assert sent.status_code == 200 and sent.json()["data"] == "pong"
        charge_point.errors["DataTransfer"] = NotSupportedError("no vendor extensions here")
        failed = await api.post("/api/commands/data-transfer", json={
            "chargePointId": charge_point.id, "vendorId": "com.example"})
        assert failed.status_code == 502
        await charge_point.call(call.DataTransfer(vendor_id="com.acme"))
    base = f"/api/charge-points/{charge_point.id}/data-transfers"
    listed = (await api.get(base)).json()
    assert [(item["initiatedBy"], item["vendorId"], item["messageId"], item["status"]) for item in listed] == [
        ("ChargePoint", "com.acme", None, "UnknownVendorId"),
        ("CentralSystem", "com.example", None, "Failed"),
        ("CentralSystem", "com.example", "ping", "Accepted"),
        ("ChargePoint", "com.acme", "meter", "UnknownVendorId")]
    assert (listed[2]["data"], listed[2]["responseData"]) == ("{}", "pong")
    assert listed[3]["data"] == '{"kWh": 3}' and listed[3]["timestamp"].endswith("Z")
    page = (await api.get(base, params={"limit": 2, "offset": 1})).json()
    assert [item["id"] for item in page] == [listed[1]["id"], listed[2]["id"]]

    logs = (await api.get("/api/logs", params={"chargePointId": charge_point.id, "limit": 1000})).json()
    lines = [entry for entry in logs if entry["event"] == "data_transfer"]
    assert len(lines) == 4
    assert any("vendorId com.acme" in entry["message"] and "messageId meter" in entry["message"] for entry in lines)
    assert any(entry["details"] == {"initiatedBy": "CentralSystem", "vendorId": "com.example", "messageId": "ping",
                                    "status": "Accepted"} for entry in lines)


async def test_data_transfers_of_an_unknown_charge_point_or_a_bad_page(server, api):
    assert (await api.get("/api/charge-points/NO-SUCH-CP/data-transfers")).status_code == 404
    async with connected(server) as charge_point:
        pass
    assert (await api.get(f"/api/charge-points/{charge_point.id}/data-transfers", params={"limit": 0})).status_code == 400
    assert (await api.get(f"/api/charge-points/{charge_point.id}/data-transfers")).json() == []
