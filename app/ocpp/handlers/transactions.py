"""StartTransaction, StopTransaction and MeterValues."""
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from app.ocpp.handlers.authorize import id_tag_info
from app.ocpp.router import router
from app.services import charging
from app.spec.datatypes import parse_timestamp


@router.on(Action.start_transaction)
def on_start_transaction(charge_point_id, connector_id, id_tag, meter_start, timestamp,
                         reservation_id=None, **_):
    transaction, verdict = charging.start_transaction(
        charge_point_id, connector_id, id_tag, meter_start, parse_timestamp(timestamp), reservation_id)
    return call_result.StartTransaction(transaction_id=transaction.id, id_tag_info=id_tag_info(verdict))


@router.on(Action.stop_transaction)
def on_stop_transaction(charge_point_id, transaction_id, meter_stop, timestamp, reason=None, id_tag=None,
                        transaction_data=None, **_):
    verdict = charging.stop_transaction(charge_point_id, transaction_id, meter_stop,
                                        parse_timestamp(timestamp), reason=reason, id_tag=id_tag,
                                        transaction_data=transaction_data)
    return call_result.StopTransaction(id_tag_info=id_tag_info(verdict) if verdict else None)


@router.on(Action.meter_values)
def on_meter_values(charge_point_id, connector_id, meter_value, transaction_id=None, **_):
    charging.record_meter_values(charge_point_id, connector_id, meter_value, transaction_id)
    return call_result.MeterValues()
