"""DataTransfer both ways: from charge points (stored, and answered as OCPP 1.6 asks, section 4.3) and
to them (sent, and stored with the answer); each in the system log, all listed per charge point."""
from flask import current_app
from ocpp.v16 import call
from ocpp.v16.enums import Action, DataTransferStatus
from sqlalchemy import update

from app.extensions import db
from app.models import DataTransferMessage
from app.services import charge_points, commands, lookups, system_log
from app.services.commands import CommandOutcome
from app.spec.failures import CommandFailed, NotConnected
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
    return transfer(charge_point_id, call.DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data))


@commands.recorded_by(Action.data_transfer)
def transfer(charge_point_id: str, request: call.DataTransfer) -> CommandOutcome:
    """DataTransfer to the charge point, kept as commands.send_recorded keeps a command."""
    message = DataTransferMessage(charge_point_id=charge_point_id, initiated_by=CENTRAL_SYSTEM,
                                  vendor_id=request.vendor_id, message_id=request.message_id, data=request.data,
                                  received_at=utcnow())

    def answered(record_id: int, outcome: CommandOutcome) -> None:
        db.session.execute(update(DataTransferMessage).where(DataTransferMessage.id == record_id)
                           .values(response_data=outcome.response.data))
        db.session.commit()

    try:
        outcome = commands.send_recorded(charge_point_id, message, lambda _: request, answered)
    except NotConnected:
        raise
    except CommandFailed:
        _log(charge_point_id, CENTRAL_SYSTEM, request.vendor_id, request.message_id, FAILED)
        raise
    _log(charge_point_id, CENTRAL_SYSTEM, request.vendor_id, request.message_id, outcome.status)
    return outcome


def _record(charge_point_id: str, initiated_by: str, vendor_id: str, message_id: str | None, data: str | None,
            status: str, response_data: str | None = None) -> None:
    db.session.add(DataTransferMessage(charge_point_id=charge_point_id, initiated_by=initiated_by, vendor_id=vendor_id,
                                       message_id=message_id, data=data, status=status, response_data=response_data,
                                       received_at=utcnow()))
    db.session.commit()  # before the log line: the system log swallows a failed commit, a DataTransfer must not
    _log(charge_point_id, initiated_by, vendor_id, message_id, status)


def _log(charge_point_id: str, initiated_by: str, vendor_id: str, message_id: str | None, status: str) -> None:
    direction = "from the charge point" if initiated_by == CHARGE_POINT else "to the charge point"
    system_log.info("data_transfer", f"DataTransfer {direction}: vendorId {vendor_id}, messageId "
                    f"{message_id if message_id is not None else '(none)'}: {status}", charge_point_id=charge_point_id,
                    details={"initiatedBy": initiated_by, "vendorId": vendor_id, "messageId": message_id,
                             "status": status})


def listing(charge_point_id: str, limit: int, offset: int) -> list[DataTransferMessage]:
    """The charge point's DataTransfers, both ways, newest first; raises NotFound for an unknown one."""
    charge_points.require(charge_point_id)
    return lookups.newest(DataTransferMessage, limit, offset, charge_point_id=charge_point_id)
