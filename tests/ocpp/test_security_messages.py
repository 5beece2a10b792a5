"""The Security Whitepaper's charge-point-initiated messages are accepted and stored."""
from ocpp.v16 import call

from tests.charge_points import connected, timestamp


async def test_security_extension_messages_are_stored(server, db):
    async with connected(server) as charge_point:
        await charge_point.call(call.SecurityEventNotification(type="TamperDetectionActivated", timestamp=timestamp(),
                                                               tech_info="cover opened"))
        signing = await charge_point.call(call.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----\nMIIB..."))
        await charge_point.call(call.SignedFirmwareStatusNotification(status="InvalidSignature", request_id=7))
        await charge_point.call(call.LogStatusNotification(status="Uploaded", request_id=8))
    assert signing.status == "Accepted"
    event = db.rows("SELECT * FROM security_events WHERE charge_point_id = :id", id=charge_point.id)[0]
    assert (event["type"], event["tech_info"]) == ("TamperDetectionActivated", "cover opened")
    assert db.scalar("SELECT csr FROM certificate_signing_requests WHERE charge_point_id = :id",
                     id=charge_point.id).startswith("-----BEGIN CERTIFICATE REQUEST-----")
    statuses = db.rows("SELECT kind, status, request_id FROM file_transfer_status_changes WHERE charge_point_id = :id "
                       "ORDER BY id", id=charge_point.id)
    assert [(r["kind"], r["status"], r["request_id"]) for r in statuses] == [("firmware", "InvalidSignature", 7),
                                                                              ("log", "Uploaded", 8)]
    row = db.rows("SELECT firmware_status, log_status FROM charge_points WHERE id = :id", id=charge_point.id)[0]
    assert (row["firmware_status"], row["log_status"]) == ("InvalidSignature", "Uploaded")
    warning = db.rows("SELECT level FROM system_logs WHERE charge_point_id = :id AND event = 'security_event'",
                      id=charge_point.id)
    assert warning[0]["level"] == "WARNING"


async def test_the_api_lists_security_events_and_signing_requests_newest_first(server, api):
    async with connected(server) as charge_point:
        for event_type, info in (("FirmwareUpdated", None), ("InvalidCentralSystemCertificate", "expired")):
            await charge_point.call(call.SecurityEventNotification(type=event_type, timestamp=timestamp(),
                                                                   tech_info=info))
        await charge_point.call(call.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----\nCSR-1"))
        await charge_point.call(call.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----\nCSR-2"))
    base = f"/api/charge-points/{charge_point.id}"

    events = (await api.get(f"{base}/security-events")).json()
    assert [(e["type"], e["techInfo"]) for e in events] == [("InvalidCentralSystemCertificate", "expired"),
                                                             ("FirmwareUpdated", None)]
    assert events[0]["timestamp"].endswith("Z") and events[0]["receivedAt"].endswith("Z")
    assert [e["type"] for e in (await api.get(f"{base}/security-events", params={"limit": 1, "offset": 1})).json()] \
        == ["FirmwareUpdated"]

    requests = (await api.get(f"{base}/certificate-signing-requests")).json()
    assert [r["csr"].rsplit("\n", 1)[1] for r in requests] == ["CSR-2", "CSR-1"]

    assert (await api.get("/api/charge-points/NO-SUCH-CP/security-events")).status_code == 404
    assert (await api.get("/api/charge-points/NO-SUCH-CP/certificate-signing-requests")).status_code == 404
    assert (await api.get(f"{base}/security-events", params={"limit": 0})).status_code == 400
