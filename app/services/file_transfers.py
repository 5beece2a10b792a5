"""Firmware updates and diagnostics uploads as the charge point reports their progress."""
from datetime import datetime

from ocpp.v16.enums import Action
from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import FileTransferRequest, FileTransferStatusChange
from app.ocpp.failures import NotConnected
from app.services import charge_points, commands, system_log
from app.services.commands import CommandOutcome
from app.services.errors import Invalid
from app.timeutil import isoformat

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


def update_firmware(charge_point_id: str, location: str, retrieve_date: datetime, retries: int | None = None,
                    retry_interval: int | None = None) -> CommandOutcome:
    """UpdateFirmware; its progress comes with FirmwareStatusNotification."""
    payload = {"location": location, "retrieveDate": isoformat(retrieve_date), **_retrying(retries, retry_interval)}
    outcome = commands.send(charge_point_id, Action.update_firmware, payload)
    _keep(charge_point_id, FIRMWARE, location, retries, retry_interval, retrieve_date=retrieve_date)
    return outcome


def get_diagnostics(charge_point_id: str, location: str, start_time: datetime | None = None,
                    stop_time: datetime | None = None, retries: int | None = None,
                    retry_interval: int | None = None) -> CommandOutcome:
    """GetDiagnostics; the answer names the file the charge point will upload (when it has one)."""
    payload = {"location": location, **_retrying(retries, retry_interval)}
    if start_time is not None:
        payload["startTime"] = isoformat(start_time)
    if stop_time is not None:
        payload["stopTime"] = isoformat(stop_time)
    outcome = commands.send(charge_point_id, Action.get_diagnostics, payload)
    _keep(charge_point_id, DIAGNOSTICS, location, retries, retry_interval, start_time=start_time, stop_time=stop_time,
          file_name=outcome.reply.get("fileName"))
    return outcome


def get_log(charge_point_id: str, log_type: str, remote_location: str, oldest: datetime | None = None,
            latest: datetime | None = None, retries: int | None = None,
            retry_interval: int | None = None) -> CommandOutcome:
    """GetLog (Security Whitepaper): the request is stored first, its id is the requestId, with which the
    charge point's LogStatusNotifications come back; the answer names the file it will upload."""
    log = {"remoteLocation": remote_location}
    if oldest is not None:
        log["oldestTimestamp"] = isoformat(oldest)
    if latest is not None:
        log["latestTimestamp"] = isoformat(latest)
    request = _numbered(charge_point_id, LOG, remote_location, retries, retry_interval, start_time=oldest,
                        stop_time=latest)
    outcome = _send_numbered(request, Action.get_log, {"logType": log_type, "requestId": request.id, "log": log,
                                                       **_retrying(retries, retry_interval)})
    if outcome.reply.get("filename"):
        db.session.execute(update(FileTransferRequest).where(FileTransferRequest.id == outcome.subject)
                           .values(file_name=outcome.reply["filename"]))
        db.session.commit()
    return outcome


def signed_update_firmware(charge_point_id: str, location: str, retrieve_date: datetime, signing_certificate: str,
                           signature: str, install_date: datetime | None = None, retries: int | None = None,
                           retry_interval: int | None = None) -> CommandOutcome:
    """SignedUpdateFirmware (Security Whitepaper), numbered like GetLog; its progress comes with
    SignedFirmwareStatusNotification under that requestId."""
    firmware = {"location": location, "retrieveDateTime": isoformat(retrieve_date),
                "signingCertificate": signing_certificate, "signature": signature}
    if install_date is not None:
        firmware["installDateTime"] = isoformat(install_date)
    request = _numbered(charge_point_id, FIRMWARE, location, retries, retry_interval, retrieve_date=retrieve_date)
    return _send_numbered(request, Action.signed_update_firmware, {"requestId": request.id, "firmware": firmware,
                                                                   **_retrying(retries, retry_interval)})


def _numbered(charge_point_id: str, kind: str, location: str, retries, retry_interval, **details) -> FileTransferRequest:
    charge_points.require(charge_point_id)
    request = FileTransferRequest(charge_point_id=charge_point_id, kind=kind, location=location, retries=retries,
                                  retry_interval=retry_interval, **details)
    db.session.add(request)
    db.session.commit()
    return request


def _send_numbered(request: FileTransferRequest, action: str, payload: dict) -> CommandOutcome:
    """Send a request numbered by its stored row; one that could not be sent is not kept."""
    request_id, charge_point_id = request.id, request.charge_point_id
    try:
        outcome = commands.send(charge_point_id, action, payload)
    except (NotConnected, Invalid):
        db.session.execute(delete(FileTransferRequest).where(FileTransferRequest.id == request_id))
        db.session.commit()
        raise
    outcome.subject = request_id
    return outcome


def _retrying(retries: int | None, retry_interval: int | None) -> dict:
    return {key: value for key, value in (("retries", retries), ("retryInterval", retry_interval)) if value is not None}


def _keep(charge_point_id: str, kind: str, location: str, retries, retry_interval, **details) -> None:
    db.session.add(FileTransferRequest(charge_point_id=charge_point_id, kind=kind, location=location, retries=retries,
                                       retry_interval=retry_interval, **details))
    db.session.commit()


def history(charge_point_id: str) -> dict:
    """The charge point's firmware, diagnostics and log status, the reports that led there, and the
    requests sent to it, newest first."""
    charge_point = charge_points.require(charge_point_id)
    changes = db.session.scalars(select(FileTransferStatusChange).where(
        FileTransferStatusChange.charge_point_id == charge_point_id).order_by(FileTransferStatusChange.id.desc()))
    requests = db.session.scalars(select(FileTransferRequest).where(
        FileTransferRequest.charge_point_id == charge_point_id).order_by(FileTransferRequest.id.desc()))
    return {"charge_point_id": charge_point_id,
            **{field: getattr(charge_point, field) for field in ("firmware_status", "firmware_status_at",
                                                                 "diagnostics_status", "diagnostics_status_at",
                                                                 "log_status", "log_status_at")},
            "status_changes": list(changes), "requests": list(requests)}
