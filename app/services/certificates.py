"""The certificates of the OCPP 1.6 Security Whitepaper: each charge point's installed certificates
(InstallCertificate, GetInstalledCertificateIds, DeleteCertificate), their certificateHashData, and the
built-in CA that signs the CSRs of SignCertificate (CertificateSigned).

certificateHashData is computed as the whitepaper prescribes, with SHA-256: the hashes of the issuer's
distinguished name (DER) and of its public key, as in an OCSP request (RFC 6960 CertID), which is how the
`cryptography` package computes them here; the serial number in hexadecimal without leading zeros.
"""
import functools
from datetime import timedelta

import gevent
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import current_app
from ocpp.v16 import call
from ocpp.v16.enums import CertificateStatus, DeleteCertificateStatus, GenericStatus, GetInstalledCertificateStatus
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import CertificateSigningRequest, InstalledCertificate
from app.services import charge_points, commands, system_log
from app.services.commands import CommandOutcome
from app.services.errors import Invalid, NotFound
from app.spec import wire
from app.spec.failures import CommandFailed, NotConnected
from app.timeutil import utcnow

HASH_FIELDS = ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")
ISSUED_FOR = timedelta(days=365)  # validity of an issued certificate (never beyond the CA's own)
# The status of a stored CSR: awaiting an external CA, refused by the checks, signed by the built-in CA,
# then the charge point's answer to CertificateSigned, or Failed when it gave none.
STORED, REFUSED, ISSUED, FAILED = "Stored", "Refused", "Issued", "Failed"


# --- certificateHashData ---

def _certificates(pem: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise Invalid("not a PEM-encoded X.509 certificate", {"certificate": ["Not a PEM certificate."]}) from None
    return certificates


def hash_data(pem: str) -> dict:
    """The certificateHashData (SHA-256) of the first certificate of `pem`. Its issuer is the certificate
    after it in `pem`, or itself where it is self-signed (a root); raises Invalid otherwise."""
    certificates = _certificates(pem)
    certificate = certificates[0]
    if len(certificates) > 1:
        issuer = certificates[1]
    elif certificate.issuer == certificate.subject:
        issuer = certificate
    else:
        raise Invalid("the certificate is not self-signed: add its issuer's certificate after it (PEM)",
                      {"certificate": ["Add the issuer's certificate after it."]})
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": request.issuer_name_hash.hex(),
            "issuerKeyHash": request.issuer_key_hash.hex(), "serialNumber": format(certificate.serial_number, "x")}


def _first_pem(pem: str) -> str:
    return _certificates(pem)[0].public_bytes(serialization.Encoding.PEM).decode()


# --- the inventory ---

def inventory(charge_point_id: str) -> list[InstalledCertificate]:
    """What the central system knows to be installed on the charge point; raises NotFound."""
    charge_points.require(charge_point_id)
    return list(db.session.scalars(select(InstalledCertificate)
                                   .where(InstalledCertificate.charge_point_id == charge_point_id)
                                   .order_by(InstalledCertificate.certificate_type, InstalledCertificate.id)))


def _matching(charge_point_id: str, hashes_: dict):
    """The inventory entries with this hash data; hexadecimal in either case (charge points differ)."""
    return (InstalledCertificate.charge_point_id == charge_point_id,
            InstalledCertificate.hash_algorithm == hashes_["hashAlgorithm"],
            func.lower(InstalledCertificate.issuer_name_hash) == hashes_["issuerNameHash"].lower(),
            func.lower(InstalledCertificate.issuer_key_hash) == hashes_["issuerKeyHash"].lower(),
            func.lower(InstalledCertificate.serial_number) == hashes_["serialNumber"].lower())


def _entry(charge_point_id: str, certificate_type: str, hashes_: dict, pem: str | None) -> InstalledCertificate:
    """An inventory entry with the hash data as the charge point (or the server) writes it: what is sent
    back in DeleteCertificate."""
    return InstalledCertificate(charge_point_id=charge_point_id, certificate_type=certificate_type,
                                hash_algorithm=hashes_["hashAlgorithm"], issuer_name_hash=hashes_["issuerNameHash"],
                                issuer_key_hash=hashes_["issuerKeyHash"], serial_number=hashes_["serialNumber"],
                                certificate=pem)


def install(charge_point_id: str, certificate_type: str, pem: str) -> CommandOutcome:
    """InstallCertificate; where Accepted, the certificate joins the charge point's inventory."""
    charge_points.require(charge_point_id)
    hashes_, certificate = hash_data(pem), _first_pem(pem)
    outcome = commands.send(charge_point_id, call.InstallCertificate(certificate_type=certificate_type,
                                                                     certificate=certificate))
    if outcome.status == CertificateStatus.accepted:
        db.session.execute(delete(InstalledCertificate).where(*_matching(charge_point_id, hashes_)))
        entry = _entry(charge_point_id, certificate_type, hashes_, certificate)
        db.session.add(entry)
        db.session.commit()
        outcome.subject = entry
    return outcome


def refresh(charge_point_id: str, certificate_type: str) -> CommandOutcome:
    """GetInstalledCertificateIds; the inventory of that type becomes what the charge point reports
    (keeping the PEM of those the central system installed)."""
    charge_points.require(charge_point_id)
    outcome = commands.send(charge_point_id, call.GetInstalledCertificateIds(certificate_type=certificate_type))
    status = outcome.status
    if status in (GetInstalledCertificateStatus.accepted, GetInstalledCertificateStatus.not_found):
        reported = outcome.reply.get("certificateHashData", []) \
            if status == GetInstalledCertificateStatus.accepted else []
        of_type = (InstalledCertificate.charge_point_id == charge_point_id,
                   InstalledCertificate.certificate_type == certificate_type)
        known = {_key(entry): entry.certificate
                 for entry in db.session.scalars(select(InstalledCertificate).where(*of_type))}
        db.session.execute(delete(InstalledCertificate).where(*of_type))
        db.session.flush()
        unique = {_key(_entry(charge_point_id, certificate_type, item, None)): item for item in reported}
        db.session.add_all(_entry(charge_point_id, certificate_type, item, known.get(key))
                           for key, item in unique.items())
        db.session.commit()
    outcome.subject = [entry for entry in inventory(charge_point_id) if entry.certificate_type == certificate_type]
    return outcome


def _key(entry: InstalledCertificate) -> tuple:
    return (entry.hash_algorithm, entry.issuer_name_hash.lower(), entry.issuer_key_hash.lower(),
            entry.serial_number.lower())


def as_hash_data(entry: InstalledCertificate) -> dict:
    return dict(zip(HASH_FIELDS, (entry.hash_algorithm, entry.issuer_name_hash, entry.issuer_key_hash,
                                  entry.serial_number)))


def delete_certificate(charge_point_id: str, certificate_id: int | None = None, pem: str | None = None,
                       certificate_hash_data: dict | None = None) -> CommandOutcome:
    """DeleteCertificate of an inventory entry, of a PEM (its hash data computed here) or of hash data as
    given; where Accepted (or NotFound: it is not there), it leaves the inventory."""
    charge_points.require(charge_point_id)
    if certificate_id is not None:
        entry = db.session.get(InstalledCertificate, certificate_id)
        if entry is None or entry.charge_point_id != charge_point_id:
            raise NotFound(f"certificate {certificate_id} is not in the inventory of {charge_point_id}",
                           {"certificateId": certificate_id})
        certificate_hash_data = as_hash_data(entry)
    elif pem is not None:
        certificate_hash_data = hash_data(pem)
    outcome = commands.send(charge_point_id, call.DeleteCertificate(
        certificate_hash_data=wire.snake_case_keys(certificate_hash_data)))
    if outcome.status in (DeleteCertificateStatus.accepted, DeleteCertificateStatus.not_found):
        db.session.execute(delete(InstalledCertificate).where(*_matching(charge_point_id, certificate_hash_data)))
        db.session.commit()
    outcome.subject = certificate_hash_data
    return outcome


# --- signing: the built-in CA ---

@functools.cache
def _authority(cert_file: str, key_file: str) -> tuple:
    """The CA's certificate, key and the chain it adds to an issued certificate (itself, unless a root)."""
    with open(cert_file, "rb") as cert_pem, open(key_file, "rb") as key_pem:
        certificate = x509.load_pem_x509_certificate(cert_pem.read())
        key = serialization.load_pem_private_key(key_pem.read(), password=None)
    chain = "" if certificate.issuer == certificate.subject else \
        certificate.public_bytes(serialization.Encoding.PEM).decode()
    return certificate, key, chain


def authority() -> tuple | None:
    cert_file, key_file = current_app.config["OCPP_CSR_CA_CERT_FILE"], current_app.config["OCPP_CSR_CA_KEY_FILE"]
    return _authority(cert_file, key_file) if cert_file and key_file else None


def _organization(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return values[0].value if values else None


def csr_problem(charge_point_id: str, csr: x509.CertificateSigningRequest,
                ca_certificate: x509.Certificate) -> str | None:
    """Why the built-in CA will not sign the CSR, or None: its signature must hold, its commonName be the
    charge point id, and its organizationName the CA's (where the CA has one)."""
    if not csr.is_signature_valid:
        return "the CSR's signature does not verify"
    common_names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [name.value for name in common_names] != [charge_point_id]:
        return f"the CSR's commonName is {common_names[0].value if common_names else 'missing'!r}, not the charge " \
               f"point id {charge_point_id!r}"
    organization = _organization(ca_certificate.subject)
    if organization is not None and _organization(csr.subject) != organization:
        return f"the CSR's organizationName is {_organization(csr.subject)!r}, not {organization!r}"
    return None


def issue(csr: x509.CertificateSigningRequest, ca_certificate: x509.Certificate, ca_key) -> x509.Certificate:
    """A charge point certificate for the CSR's subject and key, signed by the CA (TLS client use)."""
    now = utcnow()
    public_key = csr.public_key()
    builder = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_certificate.subject)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(min(now + ISSUED_FOR, ca_certificate.not_valid_after_utc))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True,
                                            key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                                            key_agreement=isinstance(public_key, ec.EllipticCurvePublicKey),
                                            content_commitment=False, data_encipherment=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    return builder.sign(ca_key, hashes.SHA256())


def receive_signing_request(charge_point_id: str, csr_pem: str) -> str:
    """SignCertificate: the CSR is stored. Without a built-in CA it awaits an external one (Accepted).
    With one, a CSR that passes csr_problem is signed, answered Accepted, and the certificate follows with
    CertificateSigned once the answer is out; one that does not is answered Rejected."""
    ca = authority()
    request = CertificateSigningRequest(charge_point_id=charge_point_id, csr=csr_pem, status=STORED)
    db.session.add(request)
    if ca is None:
        db.session.commit()  # apart from the log line, whose failure the system log swallows
        system_log.info("certificate_signing_request", "SignCertificate: a CSR awaits signing by an external CA",
                        charge_point_id=charge_point_id)
        return GenericStatus.accepted
    ca_certificate, ca_key, chain = ca
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        problem = csr_problem(charge_point_id, csr, ca_certificate)
    except (ValueError, InvalidSignature):
        problem = "not a PEM-encoded PKCS#10 CSR"
    if problem is not None:
        request.status, request.reason = REFUSED, problem[:255]
        db.session.commit()
        system_log.warning("certificate_signing_request", f"SignCertificate refused: {problem}",
                           charge_point_id=charge_point_id)
        return GenericStatus.rejected
    request.certificate = issue(csr, ca_certificate, ca_key).public_bytes(serialization.Encoding.PEM).decode() + chain
    request.status = ISSUED
    db.session.commit()
    system_log.info("certificate_signing_request", "SignCertificate: certificate issued by the built-in CA",
                    charge_point_id=charge_point_id)
    # The charge point must have SignCertificate.conf before the CertificateSigned it announces: the answer
    # is sent once this handler has returned, so the CALL waits a moment in a greenlet of its own.
    gevent.spawn_later(0.5, _send_issued, current_app._get_current_object(), request.id)
    return GenericStatus.accepted


def _send_issued(app, request_id: int) -> None:
    with app.app_context():
        try:
            request = db.session.get(CertificateSigningRequest, request_id)
            charge_point_id, certificate = request.charge_point_id, request.certificate
            certificate_signed(charge_point_id, certificate, request_id)
        except NotConnected as failure:  # it went away before the certificate could follow
            _answered(request_id, FAILED, str(failure)[:255], certificate)
        except CommandFailed:
            pass  # logged by commands.send, and the request is marked Failed
        finally:
            db.session.remove()


def certificate_signed(charge_point_id: str, certificate_chain: str, csr_id: int | None = None) -> CommandOutcome:
    """CertificateSigned with a certificate chain (PEM); with csr_id, the stored CSR takes the answer."""
    charge_points.require(charge_point_id)
    request = None
    if csr_id is not None:
        request = db.session.get(CertificateSigningRequest, csr_id)
        if request is None or request.charge_point_id != charge_point_id:
            raise NotFound(f"no certificate signing request {csr_id} of {charge_point_id}", {"csrId": csr_id})
    try:
        outcome = commands.send(charge_point_id, call.CertificateSigned(certificate_chain=certificate_chain))
    except NotConnected:
        raise
    except CommandFailed as failure:
        _answered(csr_id, FAILED, str(failure)[:255], certificate_chain)
        raise
    _answered(csr_id, outcome.status, None, certificate_chain)
    return outcome


def _answered(csr_id: int | None, status: str, reason: str | None, certificate_chain: str) -> None:
    if csr_id is None:
        return
    request = db.session.get(CertificateSigningRequest, csr_id)
    request.status, request.reason, request.certificate = status, reason, certificate_chain
    db.session.commit()
