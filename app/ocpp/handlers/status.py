"""StatusNotification: connector 0 is the charge point itself, connectors count from 1."""
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from app.ocpp.router import router
from app.services import connectors
from app.spec.datatypes import parse_timestamp
from app.timeutil import utcnow


@router.on(Action.status_notification)
def on_status_notification(charge_point_id, connector_id, error_code, status, timestamp=None, info=None,
                           vendor_id=None, vendor_error_code=None, **_):
    received_at = utcnow()
    connectors.record_status(charge_point_id, connector_id, status=status, error_code=error_code,
                             timestamp=parse_timestamp(timestamp) if timestamp else received_at,
                             received_at=received_at, info=info, vendor_id=vendor_id,
                             vendor_error_code=vendor_error_code)
    return call_result.StatusNotification()
