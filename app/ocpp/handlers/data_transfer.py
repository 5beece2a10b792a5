"""DataTransfer initiated by a charge point."""
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from app.ocpp.router import router
from app.services import data_transfers


@router.on(Action.data_transfer)
def on_data_transfer(charge_point_id, vendor_id, message_id=None, data=None, **_):
    return call_result.DataTransfer(status=data_transfers.receive(charge_point_id, vendor_id, message_id, data))
