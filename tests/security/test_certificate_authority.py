"""The built-in CA (OCPP_CSR_CA_CERT_FILE, OCPP_CSR_CA_KEY_FILE): a SignCertificate whose CSR names the
charge point (commonName) and the CA's organization is answered Accepted and followed by CertificateSigned
with a certificate that verifies against the CA; any other CSR is answered Rejected. Without the CA, CSRs
are stored for an external one, whose chain goes back with /api/commands/certificate-signed."""
import asyncio
import subprocess
import sys
from datetime import datetime, timezone

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.v16 import call

from tests.charge_points import connected
from tests.conftest import running_server
from tests.servers import ROOT, server_environment

ORGANIZATION = "Example CPO"


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ca")
    ca = trustme.CA(organization_name=ORGANIZATION)
    cert_file, key_file = folder / "ca.pem", folder / "ca-key.pem"
    ca.cert_pem.write_to_path(cert_file)
    ca.private_key_pem.write_to_path(key_file)
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes()), cert_file, key_file


@pytest.fixture(scope="module")
def ca_server(backend, authority, tmp_path_factory):
    _, cert_file, key_file = authority
    with running_server(backend, tmp_path_factory, OCPP_CSR_CA_CERT_FILE=cert_file, OCPP_CSR_CA_KEY_FILE=key_file) \
            as server:
        yield server


def csr_pem(common_name: str, organization: str | None = ORGANIZATION) -> str:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


async def signing_requests(server, charge_point_id: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=server.api_url) as api:
        return (await api.get(f"/api/charge-points/{charge_point_id}/certificate-signing-requests")).json()


async def test_a_csr_for_the_charge_point_is_signed_and_the_certificate_sent(ca_server, authority):
    ca_certificate = authority[0]
    async with connected(ca_server) as charge_point:
        request = csr_pem(charge_point.id)
        answer = await charge_point.call(call.SignCertificate(csr=request))
        assert answer.status == "Accepted"
        chain = (await charge_point.wait_for_call("CertificateSigned"))["certificate_chain"]
        issued = x509.load_pem_x509_certificates(chain.encode())
        assert len(issued) == 1  # the CA is a root: the charge point has it already
        certificate = issued[0]
        certificate.verify_directly_issued_by(ca_certificate)  # raises unless signed by the configured CA
        assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == charge_point.id
        assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORGANIZATION
        assert certificate.public_key() == x509.load_pem_x509_csr(request.encode()).public_key()
        assert certificate.not_valid_before_utc <= datetime.now(timezone.utc) < certificate.not_valid_after_utc
        assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        assert ExtendedKeyUsageOID.CLIENT_AUTH in certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value

        for _ in range(200):  # until the server has recorded the charge point's answer (10 s at most)
            if (await signing_requests(ca_server, charge_point.id))[0]["status"] != "Issued":
                break
            await asyncio.sleep(0.05)
        stored = (await signing_requests(ca_server, charge_point.id))[0]
        assert stored["status"] == "Accepted" and stored["certificate"] == chain


@pytest.mark.parametrize("common_name, organization, why", [
    ("SOMEONE-ELSE", ORGANIZATION, "commonName"),
    (None, "Another CPO", "organizationName"),
])
async def test_a_csr_for_another_name_is_refused(ca_server, common_name, organization, why):
    async with connected(ca_server) as charge_point:
        refused = await charge_point.call(call.SignCertificate(csr=csr_pem(common_name or charge_point.id, organization)))
        assert refused.status == "Rejected"
        garbage = await charge_point.call(call.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----\nnope"))
        assert garbage.status == "Rejected"
        # a good CSR afterwards gets its certificate; the refused ones got none before it
        assert (await charge_point.call(call.SignCertificate(csr=csr_pem(charge_point.id)))).status == "Accepted"
        await charge_point.wait_for_call("CertificateSigned")
        assert [action for action, _ in charge_point.received] == ["CertificateSigned"]
    stored = await signing_requests(ca_server, charge_point.id)
    assert [item["status"] for item in stored[1:]] == ["Refused", "Refused"]
    assert why in stored[2]["reason"] and stored[1]["reason"].startswith("not a PEM")
    assert stored[2]["certificate"] is None


async def test_without_a_ca_csrs_wait_for_an_external_one(server, api):
    async with connected(server) as charge_point:
        assert (await charge_point.call(call.SignCertificate(csr=csr_pem(charge_point.id)))).status == "Accepted"
        stored = (await api.get(f"/api/charge-points/{charge_point.id}/certificate-signing-requests")).json()[0]
        assert stored["status"] == "Stored" and stored["certificate"] is None
        chain = trustme.CA().issue_cert(common_name=charge_point.id).cert_chain_pems[0].bytes().decode()
        charge_point.replies["CertificateSigned"] = {"status": "Rejected"}
        response = await api.post("/api/commands/certificate-signed", json={
            "chargePointId": charge_point.id, "certificateChain": chain, "csrId": stored["id"]})
        assert response.status_code == 200 and response.json()["success"] is False
        assert await charge_point.wait_for_call("CertificateSigned") == {"certificate_chain": chain}
        assert charge_point.received.count(("CertificateSigned", {"certificate_chain": chain})) == 1
    after = (await api.get(f"/api/charge-points/{charge_point.id}/certificate-signing-requests")).json()[0]
    assert (after["status"], after["certificate"]) == ("Rejected", chain)
    unknown = await api.post("/api/commands/certificate-signed", json={
        "chargePointId": charge_point.id, "certificateChain": chain, "csrId": 2_000_000_000})
    assert unknown.status_code == 404


@pytest.mark.parametrize("settings, named", [
    ({"OCPP_CSR_CA_CERT_FILE": "ca"}, "OCPP_CSR_CA_KEY_FILE"),
    ({"OCPP_CSR_CA_CERT_FILE": "ca", "OCPP_CSR_CA_KEY_FILE": "/no/such/key.pem"}, "OCPP_CSR_CA_KEY_FILE"),
    ({"OCPP_CSR_CA_CERT_FILE": "key", "OCPP_CSR_CA_KEY_FILE": "key"}, "OCPP_CSR_CA_CERT_FILE"),
    ({"OCPP_CSR_CA_CERT_FILE": "ca", "OCPP_CSR_CA_KEY_FILE": "other-key"}, "OCPP_CSR_CA_KEY_FILE"),
])
def test_a_bad_ca_setting_stops_start_up_naming_it(authority, tmp_path, settings, named):
    _, cert_file, key_file = authority
    other_key = tmp_path / "other-key.pem"
    trustme.CA().private_key_pem.write_to_path(other_key)
    files = {"ca": str(cert_file), "key": str(key_file), "other-key": str(other_key)}
    environment = server_environment(f"sqlite:///{tmp_path / 'x.db'}",
                                     **{name: files.get(value, value) for name, value in settings.items()})
    result = subprocess.run([sys.executable, "-m", "flask", "db", "current"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"configuration error: {named}")
