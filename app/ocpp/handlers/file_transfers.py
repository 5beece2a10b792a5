"""FirmwareStatusNotification and DiagnosticsStatusNotification."""
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from app.ocpp.router import router
from app.services import file_transfers
from app.timeutil import utcnow


@router.on(Action.firmware_status_notification)
def on_firmware_status_notification(charge_point_id, status, **_):
    file_transfers.record_status(charge_point_id, file_transfers.FIRMWARE, status, utcnow())
    return call_result.FirmwareStatusNotification()


@router.on(Action.diagnostics_status_notification)
def on_diagnostics_status_notification(charge_point_id, status, **_):
    file_transfers.record_status(charge_point_id, file_transfers.DIAGNOSTICS, status, utcnow())
    return call_result.DiagnosticsStatusNotification()
