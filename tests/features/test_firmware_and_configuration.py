"""Firmware Management (UpdateFirmware, GetDiagnostics and their status notifications) and the last known
configuration of each charge point."""
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call

from tests.charge_points import connected


async def command(api, path, **body):
    return await api.post(f"/api/commands/{path}", json=body)


async def test_update_firmware_and_its_progress(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "update-firmware", chargePointId=charge_point.id,
                                 location="https://firmware.example.com/v2.bin", retrieveDate="2030-01-01T02:00:00Z",
                                 retries=3, retryInterval=60)
        assert response.status_code == 200 and response.json()["success"] is True
        assert charge_point.received == [("UpdateFirmware", {"location": "https://firmware.example.com/v2.bin",
                                                             "retrieve_date": "2030-01-01T02:00:00.000Z",
                                                             "retries": 3, "retry_interval": 60})]
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await charge_point.call(call.FirmwareStatusNotification(status=status))
    history = (await api.get(f"/api/charge-points/{charge_point.id}/file-transfers")).json()
    assert history["firmwareStatus"] == "Installed" and history["firmwareStatusAt"].endswith("Z")
    assert [change["status"] for change in history["statusChanges"]] == ["Installed", "Installing", "Downloaded",
                                                                         "Downloading"]
    request, = history["requests"]
    assert (request["kind"], request["location"], request["retries"], request["retrieveDate"]) == \
        ("firmware", "https://firmware.example.com/v2.bin", 3, "2030-01-01T02:00:00.000Z")


async def test_get_diagnostics_returns_the_file_name(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "get-diagnostics", chargePointId=charge_point.id,
                                 location="ftp://logs.example.com/upload", startTime="2024-01-01T00:00:00Z")
        assert charge_point.received[0] == ("GetDiagnostics", {"location": "ftp://logs.example.com/upload",
                                                               "start_time": "2024-01-01T00:00:00.000Z"})
        await charge_point.call(call.DiagnosticsStatusNotification(status="Uploaded"))
    assert response.json()["fileName"] == "diagnostics-2024.log"
    history = (await api.get(f"/api/charge-points/{charge_point.id}/file-transfers")).json()
    assert history["diagnosticsStatus"] == "Uploaded" and history["requests"][0]["fileName"] == "diagnostics-2024.log"


async def test_a_charge_point_without_firmware_management(server, api):
    async with connected(server) as charge_point:
        charge_point.errors["UpdateFirmware"] = NotSupportedError("no firmware updates here")
        response = await command(api, "update-firmware", chargePointId=charge_point.id, location="https://x/fw.bin")
    assert response.status_code == 502 and response.json()["details"]["errorCode"] == "NotSupported"
    assert (await command(api, "update-firmware", chargePointId=charge_point.id, location="")).status_code == 400


async def test_the_last_known_configuration_is_kept(server, api):
    async with connected(server) as charge_point:
        charge_point.replies["GetConfiguration"] = {"configuration_key": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
            {"key": "AuthorizationKey", "readonly": False, "value": "supersecret-1234567"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"}], "unknown_key": []}
        await command(api, "get-configuration", chargePointId=charge_point.id)
        await command(api, "change-configuration", chargePointId=charge_point.id, key="HeartbeatInterval", value="300")
        charge_point.replies["ChangeConfiguration"] = {"status": "Rejected"}
        await command(api, "change-configuration", chargePointId=charge_point.id, key="NumberOfConnectors", value="9")
    known = {entry["key"]: entry for entry in (await api.get(f"/api/charge-points/{charge_point.id}/configuration")).json()}
    assert known["HeartbeatInterval"]["value"] == "300"     # changed and accepted
    assert known["NumberOfConnectors"]["value"] == "2"      # the change was rejected
    assert known["NumberOfConnectors"]["readonly"] is True
    assert known["AuthorizationKey"]["value"] == "***"       # never stored
    logs = (await api.get("/api/logs", params={"chargePointId": charge_point.id})).text
    assert "supersecret" not in logs


async def test_data_transfer_to_a_charge_point(server, api):
    async with connected(server) as charge_point:
        response = await command(api, "data-transfer", chargePointId=charge_point.id, vendorId="com.example",
                                 messageId="ping", data="{}")
        assert charge_point.received == [("DataTransfer", {"vendor_id": "com.example", "message_id": "ping", "data": "{}"})]
    assert response.json()["status"] == "Accepted"
