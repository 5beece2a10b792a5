"""GET /api/status, /api/charge-points, /api/charge-points/<id> and /api/connectors."""
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call

from tests.charge_points import connected, new_id, timestamp


async def test_status(server, api):
    async with connected(server) as charge_point:
        await charge_point.call(call.StartTransaction(connector_id=1, id_tag="X", meter_start=0, timestamp=timestamp()))
        body = (await api.get("/api/status")).json()
    assert body["status"] == "running" and body["systemName"] == "ocpp-central" and body["version"]
    assert abs(datetime.fromisoformat(body["serverTime"]) - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert body["serverTime"].endswith("Z") and body["uptimeSeconds"] >= 0
    assert body["chargePointsConnected"] >= 1 and body["chargePointsTotal"] >= body["chargePointsConnected"]
    assert body["activeTransactions"] >= 1
    assert body["database"] == {"type": server.database.kind, "connected": True}


async def test_charge_points_list_with_boot_data_and_connection(server, api):
    async with connected(server) as charge_point:
        await charge_point.call(call.BootNotification(charge_point_vendor="ABB", charge_point_model="Terra",
                                                      firmware_version="1.2", charge_point_serial_number="SN9"))
        await charge_point.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Available"))
        listed = {item["id"]: item for item in (await api.get("/api/charge-points")).json()}
    mine = listed[charge_point.id]
    for key in ("id", "vendor", "model", "serialNumber", "firmwareVersion", "status", "lastHeartbeat",
                "lastBootNotification", "heartbeatInterval", "isConnected", "createdAt", "updatedAt",
                "registrationStatus", "lastSeen"):
        assert key in mine, key
    assert (mine["vendor"], mine["model"], mine["serialNumber"], mine["firmwareVersion"], mine["status"],
            mine["registrationStatus"], mine["isConnected"], mine["heartbeatInterval"]) == \
        ("ABB", "Terra", "SN9", "1.2", "Available", "Accepted", True, 60)
    later = {item["id"]: item for item in (await api.get("/api/charge-points")).json()}
    assert later[charge_point.id]["isConnected"] is False


async def test_one_charge_point_with_its_connectors(server, api):
    async with connected(server) as charge_point:
        for connector_id, status in ((0, "Available"), (1, "Charging"), (2, "Faulted")):
            await charge_point.call(call.StatusNotification(
                connector_id=connector_id, status=status, info="hot" if status == "Faulted" else None,
                error_code="HighTemperature" if status == "Faulted" else "NoError"))
        started = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="X", meter_start=0,
                                                                timestamp=timestamp()))
        await charge_point.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
            {"timestamp": timestamp(), "sampledValue": [
                {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"}]}]))
        body = (await api.get(f"/api/charge-points/{charge_point.id}")).json()
    assert body["id"] == charge_point.id and body["isConnected"] is True and body["status"] == "Available"
    connectors = {connector["connectorId"]: connector for connector in body["connectors"]}
    assert sorted(connectors) == [0, 1, 2]
    assert connectors[1]["currentTransactionId"] == started.transaction_id
    assert connectors[1]["currentPower"] == 7400
    assert (connectors[2]["status"], connectors[2]["errorCode"], connectors[2]["info"]) == ("Faulted", "HighTemperature", "hot")
    for key in ("connectorId", "status", "errorCode", "currentPower", "updatedAt", "statusTimestamp"):
        assert key in connectors[2]
    assert connectors[2]["currentTransactionId"] is None


async def test_unknown_charge_point_is_404(api):
    response = await api.get(f"/api/charge-points/{new_id('NOBODY')}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_connectors_of_a_charge_point(server, api):
    async with connected(server) as charge_point:
        await charge_point.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
    body = (await api.get("/api/connectors", params={"chargePointId": charge_point.id})).json()
    assert [(c["connectorId"], c["status"]) for c in body] == [(1, "Preparing")]
    assert (await api.get("/api/connectors")).status_code == 400
    assert (await api.get("/api/connectors", params={"chargePointId": new_id("NOBODY")})).status_code == 404


async def test_the_api_is_not_served_on_the_websocket_port(server, api):
    import httpx
    async with httpx.AsyncClient(base_url=server.ws_url.replace("ws://", "http://")) as other:
        assert (await other.get("/api/status")).status_code == 404
        assert (await other.get("/api/openapi.json")).status_code == 404
