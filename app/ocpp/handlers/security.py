"""The charge-point-initiated messages of the OCPP 1.6 Security Whitepaper."""
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from app.ocpp.router import router
from app.services import certificates, file_transfers, security_events
from app.spec.datatypes import parse_timestamp
from app.timeutil import utcnow


@router.on(Action.security_event_notification)
def on_security_event_notification(charge_point_id, type, timestamp, tech_info=None, **_):
    security_events.record(charge_point_id, type, parse_timestamp(timestamp), tech_info)
    return call_result.SecurityEventNotification()


@router.on(Action.sign_certificate)
def on_sign_certificate(charge_point_id, csr, **_):
    return call_result.SignCertificate(status=certificates.receive_signing_request(charge_point_id, csr))


@router.on(Action.signed_firmware_status_notification)
def on_signed_firmware_status_notification(charge_point_id, status, request_id=None, **_):
    file_transfers.record_status(charge_point_id, file_transfers.FIRMWARE, status, utcnow(), request_id)
    return call_result.SignedFirmwareStatusNotification()


@router.on(Action.log_status_notification)
def on_log_status_notification(charge_point_id, status, request_id=None, **_):
    file_transfers.record_status(charge_point_id, file_transfers.LOG, status, utcnow(), request_id)
    return call_result.LogStatusNotification()
