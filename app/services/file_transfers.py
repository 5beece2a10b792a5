"""Firmware updates and diagnostics uploads as the charge point reports their progress."""
from dataclasses import replace
from datetime import datetime

from ocpp.v16 import call
from ocpp.v16.enums import Action
from sqlalchemy import select, update

from app.extensions import db
from app.models import FileTransferRequest, FileTransferStatusChange
from app.services import charge_points, commands, system_log
from app.services.commands import CommandOutcome
from app.services.errors import parsed_timestamp
from app.spec.datatypes import isoformat

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
    return send_update_firmware(charge_point_id, call.UpdateFirmware(
        location=location, retrieve_date=isoformat(retrieve_date), retries=retries, retry_interval=retry_interval))


@commands.recorded_by(Action.update_firmware)
def send_update_firmware(charge_point_id: str, request: call.UpdateFirmware) -> CommandOutcome:
    return _send(charge_point_id, FIRMWARE, request, request.location, retrieve_date=request.retrieve_date)


def get_diagnostics(charge_point_id: str, location: str, start_time: datetime | None = None,
                    stop_time: datetime | None = None, retries: int | None = None,
                    retry_interval: int | None = None) -> CommandOutcome:
    """GetDiagnostics; the answer names the file the charge point will upload (when it has one)."""
    return send_get_diagnostics(charge_point_id, call.GetDiagnostics(
        location=location, retries=retries, retry_interval=retry_interval, start_time=isoformat(start_time),
        stop_time=isoformat(stop_time)))


@commands.recorded_by(Action.get_diagnostics)
def send_get_diagnostics(charge_point_id: str, request: call.GetDiagnostics) -> CommandOutcome:
    return _send(charge_point_id, DIAGNOSTICS, request, request.location, start_time=request.start_time,
                 stop_time=request.stop_time)


def get_log(charge_point_id: str, log_type: str, remote_location: str, oldest: datetime | None = None,
            latest: datetime | None = None, retries: int | None = None,
            retry_interval: int | None = None) -> CommandOutcome:
    """GetLog (Security Whitepaper): the request is stored first, its id is the requestId, with which the
    charge point's LogStatusNotifications come back; the answer names the file it will upload."""
    return send_get_log(charge_point_id, call.GetLog(
        log={"remote_location": remote_location, "oldest_timestamp": isoformat(oldest),
             "latest_timestamp": isoformat(latest)},
        log_type=log_type, request_id=0, retries=retries, retry_interval=retry_interval))


@commands.recorded_by(Action.get_log)
def send_get_log(charge_point_id: str, request: call.GetLog) -> CommandOutcome:
    """GetLog numbered by its stored request (whatever requestId it had)."""
    return _send(charge_point_id, LOG, request, request.log["remote_location"],
                 start_time=request.log.get("oldest_timestamp"), stop_time=request.log.get("latest_timestamp"))


def signed_update_firmware(charge_point_id: str, location: str, retrieve_date: datetime, signing_certificate: str,
                           signature: str, install_date: datetime | None = None, retries: int | None = None,
                           retry_interval: int | None = None) -> CommandOutcome:
    """SignedUpdateFirmware (Security Whitepaper), numbered like GetLog; its progress comes with
    SignedFirmwareStatusNotification under that requestId."""
    return send_signed_update_firmware(charge_point_id, call.SignedUpdateFirmware(
        request_id=0, retries=retries, retry_interval=retry_interval,
        firmware={"location": location, "retrieve_date_time": isoformat(retrieve_date),
                  "install_date_time": isoformat(install_date), "signing_certificate": signing_certificate,
                  "signature": signature}))


@commands.recorded_by(Action.signed_update_firmware)
def send_signed_update_firmware(charge_point_id: str, request: call.SignedUpdateFirmware) -> CommandOutcome:
    """SignedUpdateFirmware numbered by its stored request (whatever requestId it had)."""
    return _send(charge_point_id, FIRMWARE, request, request.firmware["location"],
                 retrieve_date=request.firmware["retrieve_date_time"])


def _send(charge_point_id: str, kind: str, request, location: str, **times: str | None) -> CommandOutcome:
    """Store the request (its id numbers a request that has a requestId), send it, keep the file name
    answered; the one policy of commands.send_recorded for what a failure leaves."""
    record = FileTransferRequest(charge_point_id=charge_point_id, kind=kind, location=location,
                                 retries=request.retries, retry_interval=request.retry_interval,
                                 **{field: parsed_timestamp(field, value) for field, value in times.items()})

    def numbered(request_id: int):
        return replace(request, request_id=request_id) if hasattr(request, "request_id") else request

    def answered(request_id: int, outcome: CommandOutcome) -> None:
        file_name = getattr(outcome.response, "file_name", None) or getattr(outcome.response, "filename", None)
        if file_name:
            db.session.execute(update(FileTransferRequest).where(FileTransferRequest.id == request_id)
                               .values(file_name=file_name))
            db.session.commit()

    outcome = commands.send_recorded(charge_point_id, record, numbered, answered)
    outcome.subject = outcome.subject.id
    return outcome


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
