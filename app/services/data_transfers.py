"""DataTransfer both ways: from charge points (stored, and answered as OCPP 1.6 asks, section 4.3) and
to them (sent, and stored with the answer); each in the system log, all listed per charge point."""
from flask import current_app
from ocpp.v16.enums import Action, DataTransferStatus
from sqlalchemy import select

from app.extensions import db
from app.models import DataTransferMessage
from app.ocpp.failures import CommandFailed, NotConnected
from app.services import charge_points, commands, system_log
from app.services.commands import CommandOutcome
from app.timeutil import utcnow

CHARGE_POINT, CENTRAL_SYSTEM = "ChargePoint", "CentralSystem"
FAILED = "Failed"  # sent, but no (valid) answer came


def receive(charge_point_id: str, vendor_id: str, message_id: str | None, data: str | None) -> str:
    """Store the message; Accepted for a vendorId in OCPP_DATA_TRANSFER_VENDORS, else UnknownVendorId.

    The central system implements no vendor-specific extension of its own, so for any other vendor
    the spec's answer is UnknownVendorId; operators whose back office reads these messages (from
    GET /api/charge-points/:id/data-transfers or the database) list the vendor to have them Accepted.
    """
    if vendor_id in current_app.config["DATA_TRANSFER_VENDORS"]:
        status = DataTransferStatus.accepted
    else:
        status = DataTransferStatus.unknown_vendor_id
    _record(charge_point_id, CHARGE_POINT, vendor_id, message_id, data, status)
    return status


def send(charge_point_id: str, vendor_id: str, message_id: str | None = None,
         data: str | None = None) -> CommandOutcome:
    """DataTransfer to the charge point; stored with its answer (Failed where none came)."""
    payload = {"vendorId": vendor_id, **({"messageId": message_id} if message_id is not None else {}),
               **({"data": data} if data is not None else {})}
    try:
        outcome = commands.send(charge_point_id, Action.data_transfer, payload)
    except NotConnected:
        raise
    except CommandFailed:
        _record(charge_point_id, CENTRAL_SYSTEM, vendor_id, message_id, data, FAILED)
        raise
    _record(charge_point_id, CENTRAL_SYSTEM, vendor_id, message_id, data, outcome.reply["status"],
            outcome.reply.get("data"))
    return outcome


def _record(charge_point_id: str, initiated_by: str, vendor_id: str, message_id: str | None, data: str | None,
            status: str, response_data: str | None = None) -> None:
    db.session.add(DataTransferMessage(charge_point_id=charge_point_id, initiated_by=initiated_by, vendor_id=vendor_id,
                                       message_id=message_id, data=data, status=status, response_data=response_data,
                                       received_at=utcnow()))
    db.session.commit()  # before the log line: the system log swallows a failed commit, a DataTransfer must not
    direction = "from the charge point" if initiated_by == CHARGE_POINT else "to the charge point"
    system_log.info("data_transfer", f"DataTransfer {direction}: vendorId {vendor_id}, messageId "
                    f"{message_id if message_id is not None else '(none)'}: {status}", charge_point_id=charge_point_id,
                    details={"initiatedBy": initiated_by, "vendorId": vendor_id, "messageId": message_id,
                             "status": status})


def listing(charge_point_id: str, limit: int, offset: int) -> list[DataTransferMessage]:
    """The charge point's DataTransfers, both ways, newest first; raises NotFound for an unknown one."""
    charge_points.require(charge_point_id)
    return list(db.session.scalars(select(DataTransferMessage)
                                   .where(DataTransferMessage.charge_point_id == charge_point_id)
                                   .order_by(DataTransferMessage.id.desc()).limit(limit).offset(offset)))
