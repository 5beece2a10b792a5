"""The Security Whitepaper's commands through their typed endpoints: GetLog and SignedUpdateFirmware
numbered by the server (AcceptedCanceled is an acceptance), ExtendedTriggerMessage, and the certificate
inventory with certificateHashData computed by the server (SHA-256)."""
import hashlib

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from ocpp.v16 import call

from tests.charge_points import connected


async def command(api, path, **body):
    return await api.post(f"/api/commands/{path}", json=body)


def expected_hash_data(certificate_pem: str, issuer_pem: str | None = None) -> dict:
    """certificateHashData worked out by hand (SHA-256 of the issuer's DER name and of its public key's
    bits, the serial number in hex), to check the server's against."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    issuer = x509.load_pem_x509_certificate(issuer_pem.encode()) if issuer_pem else certificate
    key = issuer.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key_bits = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        key_bits = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return {"hashAlgorithm": "SHA256", "issuerNameHash": hashlib.sha256(issuer.subject.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(key_bits).hexdigest(), "serialNumber": format(certificate.serial_number, "x")}


async def test_get_log_answered_accepted_canceled_is_a_success(server, api):
    async with connected(server) as charge_point:
        charge_point.replies["GetLog"] = {"status": "AcceptedCanceled", "filename": "security.log"}
        response = await command(api, "get-log", chargePointId=charge_point.id, logType="SecurityLog",
                                 remoteLocation="https://logs.example/upload", oldestTimestamp="2030-01-01T00:00:00Z")
        sent = await charge_point.wait_for_call("GetLog")
        body = response.json()
        assert response.status_code == 200, response.text
        assert body["success"] is True and body["status"] == "AcceptedCanceled" and "accepted" in body["message"]
        assert sent["request_id"] == body["requestId"] and sent["log_type"] == "SecurityLog"
        assert sent["log"] == {"remote_location": "https://logs.example/upload",
                               "oldest_timestamp": "2030-01-01T00:00:00.000Z"}
        await charge_point.call(call.LogStatusNotification(status="Uploading", request_id=body["requestId"]))
    transfers = (await api.get(f"/api/charge-points/{charge_point.id}/file-transfers")).json()
    assert [(r["requestId"], r["kind"], r["fileName"]) for r in transfers["requests"]] == \
        [(body["requestId"], "log", "security.log")]
    assert transfers["statusChanges"][0]["requestId"] == body["requestId"] and transfers["logStatus"] == "Uploading"


async def test_signed_update_firmware_and_extended_trigger_message(server, api):
    ca = trustme.CA()
    async with connected(server) as charge_point:
        charge_point.replies["SignedUpdateFirmware"] = {"status": "AcceptedCanceled"}
        response = await command(api, "signed-update-firmware", chargePointId=charge_point.id,
                                 location="https://fw.example/2.0.bin", retrieveDateTime="2030-01-01T02:00:00Z",
                                 signingCertificate=ca.cert_pem.bytes().decode(), signature="c2lnbmF0dXJl", retries=2)
        sent = await charge_point.wait_for_call("SignedUpdateFirmware")
        assert response.json()["success"] is True and sent["request_id"] == response.json()["requestId"]
        assert sent["firmware"]["location"] == "https://fw.example/2.0.bin" and sent["retries"] == 2
        charge_point.replies["SignedUpdateFirmware"] = {"status": "InvalidCertificate"}
        refused = await command(api, "signed-update-firmware", chargePointId=charge_point.id,
                                location="https://fw.example/2.0.bin", signingCertificate="x", signature="c2ln")
        assert refused.json()["success"] is False and refused.json()["requestId"] > response.json()["requestId"]

        trigger = await command(api, "extended-trigger-message", chargePointId=charge_point.id,
                                requestedMessage="SignChargePointCertificate")
        assert trigger.json()["success"] is True
        assert await charge_point.wait_for_call("ExtendedTriggerMessage") == \
            {"requested_message": "SignChargePointCertificate"}
        wrong = await command(api, "extended-trigger-message", chargePointId=charge_point.id,
                              requestedMessage="DiagnosticsStatusNotification")
        assert wrong.status_code == 400


async def test_install_refresh_and_delete_certificates_with_computed_hash_data(server, api):
    root, other_root = trustme.CA(), trustme.CA()
    root_pem, other_pem = root.cert_pem.bytes().decode(), other_root.cert_pem.bytes().decode()
    inventory_url = None
    async with connected(server) as charge_point:
        inventory_url = f"/api/charge-points/{charge_point.id}/certificates"
        installed = await command(api, "install-certificate", chargePointId=charge_point.id,
                                  certificateType="CentralSystemRootCertificate", certificate=root_pem)
        assert installed.status_code == 200, installed.text
        assert (await charge_point.wait_for_call("InstallCertificate"))["certificate"].strip() == root_pem.strip()
        entry = installed.json()["installedCertificate"]
        assert entry["certificateHashData"] == expected_hash_data(root_pem) and entry["certificate"]

        # the charge point reports what it holds: the one installed, and one the central system did not know
        charge_point.replies["GetInstalledCertificateIds"] = {"status": "Accepted", "certificate_hash_data": [
            expected_hash_data(root_pem), expected_hash_data(other_pem)]}
        refreshed = await command(api, "get-installed-certificate-ids", chargePointId=charge_point.id,
                                  certificateType="CentralSystemRootCertificate")
        listed = refreshed.json()["installedCertificates"]
        assert sorted(item["certificateHashData"]["serialNumber"] for item in listed) == \
            sorted(expected_hash_data(pem)["serialNumber"] for pem in (root_pem, other_pem))
        assert {item["certificateHashData"]["serialNumber"]: item["certificate"] is not None for item in listed} == \
            {expected_hash_data(root_pem)["serialNumber"]: True, expected_hash_data(other_pem)["serialNumber"]: False}
        assert len((await api.get(inventory_url)).json()) == 2

        by_id = next(item for item in listed if item["certificate"] is None)
        deleted = await command(api, "delete-certificate", chargePointId=charge_point.id, certificateId=by_id["id"])
        assert deleted.json()["success"] is True
        assert deleted.json()["certificateHashData"] == expected_hash_data(other_pem)
        by_pem = await command(api, "delete-certificate", chargePointId=charge_point.id, certificate=root_pem)
        assert by_pem.json()["certificateHashData"] == expected_hash_data(root_pem)
        sent = [payload for action, payload in charge_point.received if action == "DeleteCertificate"]
        assert [item["certificate_hash_data"]["serial_number"] for item in sent] == \
            [expected_hash_data(other_pem)["serialNumber"], expected_hash_data(root_pem)["serialNumber"]]
        assert (await api.get(inventory_url)).json() == []

        charge_point.replies["InstallCertificate"] = {"status": "Rejected"}
        rejected = await command(api, "install-certificate", chargePointId=charge_point.id,
                                 certificateType="ManufacturerRootCertificate", certificate=other_pem)
        assert rejected.json()["success"] is False and rejected.json()["installedCertificate"] is None
        assert (await api.get(inventory_url)).json() == []


async def test_hash_data_of_a_certificate_with_its_issuer_and_bad_requests(server, api):
    root = trustme.CA()
    intermediate = root.create_child_ca()
    child_pem, root_pem = intermediate.cert_pem.bytes().decode(), root.cert_pem.bytes().decode()
    async with connected(server) as charge_point:
        alone = await command(api, "delete-certificate", chargePointId=charge_point.id, certificate=child_pem)
        assert alone.status_code == 400 and "issuer" in alone.json()["message"]
        with_issuer = await command(api, "delete-certificate", chargePointId=charge_point.id,
                                    certificate=child_pem + root_pem)
        assert with_issuer.json()["certificateHashData"] == expected_hash_data(child_pem, root_pem)
        for body in ({}, {"certificateId": 1, "certificate": root_pem}, {"certificate": "not a PEM"}):
            response = await command(api, "delete-certificate", chargePointId=charge_point.id, **body)
            assert response.status_code == 400, body
        unknown = await command(api, "delete-certificate", chargePointId=charge_point.id, certificateId=2_000_000_000)
        assert unknown.status_code == 404
        wrong_type = await command(api, "install-certificate", chargePointId=charge_point.id,
                                   certificateType="V2GRootCertificate", certificate=root_pem)
        assert wrong_type.status_code == 400
    assert (await api.get("/api/charge-points/NO-SUCH-CP/certificates")).status_code == 404


async def test_hash_data_reported_in_upper_case_is_kept_as_reported_and_matched_in_any_case(server, api):
    root_pem = trustme.CA().cert_pem.bytes().decode()
    reported = {key: value.upper() if key != "hashAlgorithm" else value
                for key, value in expected_hash_data(root_pem).items()}
    async with connected(server) as charge_point:
        charge_point.replies["GetInstalledCertificateIds"] = {"status": "Accepted", "certificate_hash_data": [reported]}
        listed = (await command(api, "get-installed-certificate-ids", chargePointId=charge_point.id,
                                certificateType="ManufacturerRootCertificate")).json()["installedCertificates"]
        assert [item["certificateHashData"] for item in listed] == [reported]
        # deleting by its PEM (hash data computed in lower case) removes the entry reported in upper case
        await command(api, "delete-certificate", chargePointId=charge_point.id, certificate=root_pem)
        assert (await api.get(f"/api/charge-points/{charge_point.id}/certificates")).json() == []
