"""BootNotification and Heartbeat."""
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, RegistrationStatus

from app.ocpp.admission import admission
from app.ocpp.router import router
from app.services import charge_points
from app.services.charge_points import BootInfo
from app.spec.datatypes import isoformat
from app.timeutil import utcnow


@router.on(Action.boot_notification)
def on_boot_notification(charge_point_id, charge_point_vendor, charge_point_model,
                         charge_point_serial_number=None, charge_box_serial_number=None,
                         firmware_version=None, iccid=None, imsi=None, meter_type=None,
                         meter_serial_number=None, **_):
    now = utcnow()
    gate = admission()
    if gate.writes_behind() and not charge_points.has_open_transaction(charge_point_id):
        # Nothing stored: the charge point boots again after `interval`, when there may be room.
        interval = gate.pending_interval()
        gate.shed(charge_point_id, f"BootNotification answered Pending, interval {interval} s")
        return call_result.BootNotification(current_time=isoformat(now), interval=interval,
                                            status=RegistrationStatus.pending)
    boot = BootInfo(vendor=charge_point_vendor, model=charge_point_model,
                    serial_number=charge_point_serial_number,
                    charge_box_serial_number=charge_box_serial_number, firmware_version=firmware_version,
                    iccid=iccid, imsi=imsi, meter_type=meter_type, meter_serial_number=meter_serial_number)
    registration = charge_points.register_boot(charge_point_id, boot, now)
    return call_result.BootNotification(current_time=isoformat(now), interval=registration.heartbeat_interval,
                                        status=RegistrationStatus(registration.status))


@router.on(Action.heartbeat)
def on_heartbeat(charge_point_id, **_):
    now = utcnow()
    charge_points.record_heartbeat(charge_point_id, now)
    return call_result.Heartbeat(current_time=isoformat(now))
