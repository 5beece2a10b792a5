"""Firmware updates and diagnostics uploads as the charge point reports their progress."""
from datetime import datetime

from app.extensions import db
from app.models import FileTransferStatusChange
from app.services import charge_points, system_log

FIRMWARE, DIAGNOSTICS, LOG = "firmware", "diagnostics", "log"


def record_status(charge_point_id: str, kind: str, status: str, at: datetime, request_id: int | None = None) -> None:
    """Keep the report in the history and as the charge point's current firmware/diagnostics status."""
    charge_point = charge_points.get(charge_point_id)
    setattr(charge_point, f"{kind}_status", status)
    setattr(charge_point, f"{kind}_status_at", at)
    db.session.add(FileTransferStatusChange(charge_point_id=charge_point_id, kind=kind, status=status,
                                            request_id=request_id, received_at=at))
    db.session.commit()
    system_log.info(f"{kind}_status", f"{kind} status: {status}", charge_point_id=charge_point_id)
