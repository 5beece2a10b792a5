"""What charge points report of their security (SecurityEventNotification) and ask of it (SignCertificate)."""
from datetime import datetime

from app.extensions import db
from app.models import CertificateSigningRequest, SecurityEvent
from app.services import system_log


def record(charge_point_id: str, event_type: str, timestamp: datetime, tech_info: str | None) -> None:
    db.session.add(SecurityEvent(charge_point_id=charge_point_id, type=event_type, timestamp=timestamp,
                                 tech_info=tech_info))
    system_log.warning("security_event", f"security event {event_type}" + (f": {tech_info}" if tech_info else ""),
                       charge_point_id=charge_point_id)  # commits both


def record_signing_request(charge_point_id: str, csr: str) -> None:
    """Kept for the operator: a CA signs it outside, and CertificateSigned (a generic command) returns it."""
    db.session.add(CertificateSigningRequest(charge_point_id=charge_point_id, csr=csr))
    system_log.info("certificate_signing_request", "SignCertificate: a CSR awaits signing",
                    charge_point_id=charge_point_id)
