"""DataTransfer from charge points: stored, and answered as OCPP 1.6 asks (section 4.3)."""
from flask import current_app
from ocpp.v16.enums import DataTransferStatus

from app.extensions import db
from app.models import DataTransferMessage
from app.timeutil import utcnow


def receive(charge_point_id: str, vendor_id: str, message_id: str | None, data: str | None) -> str:
    """Store the message; Accepted for a vendorId in OCPP_DATA_TRANSFER_VENDORS, else UnknownVendorId.

    The central system implements no vendor-specific extension of its own, so for any other vendor
    the spec's answer is UnknownVendorId; operators whose back office reads these messages from the
    database list the vendor to have them Accepted.
    """
    if vendor_id in current_app.config["DATA_TRANSFER_VENDORS"]:
        status = DataTransferStatus.accepted
    else:
        status = DataTransferStatus.unknown_vendor_id
    db.session.add(DataTransferMessage(charge_point_id=charge_point_id, vendor_id=vendor_id,
                                       message_id=message_id, data=data, status=status,
                                       received_at=utcnow()))
    db.session.commit()
    return status
