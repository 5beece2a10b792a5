"""What charge points report of their security (SecurityEventNotification) and ask of it (SignCertificate)."""
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import CertificateSigningRequest, SecurityEvent
from app.services import charge_points, lookups, system_log


def record(charge_point_id: str, event_type: str, timestamp: datetime, tech_info: str | None) -> None:
    db.session.add(SecurityEvent(charge_point_id=charge_point_id, type=event_type, timestamp=timestamp,
                                 tech_info=tech_info))
    db.session.commit()  # apart from the log line, whose failure the system log swallows
    system_log.warning("security_event", f"security event {event_type}" + (f": {tech_info}" if tech_info else ""),
                       charge_point_id=charge_point_id)


def events(charge_point_id: str, limit: int, offset: int) -> list[SecurityEvent]:
    """The charge point's security events, newest first; raises NotFound for an unknown charge point."""
    charge_points.require(charge_point_id)
    return lookups.page(select(SecurityEvent).where(SecurityEvent.charge_point_id == charge_point_id)
                        .order_by(SecurityEvent.timestamp.desc(), SecurityEvent.id.desc()), limit, offset)


def signing_requests(charge_point_id: str, limit: int, offset: int) -> list[CertificateSigningRequest]:
    """The CSRs the charge point sent with SignCertificate, newest first."""
    charge_points.require(charge_point_id)
    return lookups.newest(CertificateSigningRequest, limit, offset, charge_point_id=charge_point_id)
