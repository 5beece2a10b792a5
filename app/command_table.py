"""The commands an operator can send to a charge point, declared once for every edge that sends them:
the API (POST /api/commands/<name>) and the console (its command forms). Each names its body schema, the
one service call its loaded body makes, and the schema of its result, so that a command cannot be sent
differently from the two edges."""
from dataclasses import dataclass
from typing import Callable

from marshmallow import Schema

from app.schemas import (CancelReservationBody, CertificateSignedBody, ChangeAvailabilityBody, ChangeConfigurationBody,
                         ChangePasswordBody, ChargePointCommandBody, ChargingProfileResultSchema,
                         ClearChargingProfileBody, CommandResultSchema, DataTransferBody, DeleteCertificateBody,
                         DeleteCertificateResultSchema, ExtendedTriggerMessageBody, GenericCommandBody,
                         GetCompositeScheduleBody, GetConfigurationBody, GetDiagnosticsBody,
                         GetInstalledCertificateIdsBody, GetLogBody, InstallCertificateBody,
                         InstallCertificateResultSchema, InstalledCertificatesResultSchema, NumberedRequestResultSchema,
                         RemoteStartBody, RemoteStopBody, ReservationResultSchema, ReserveNowBody, ResetBody,
                         SendLocalListBody, SetChargingProfileBody, SignedUpdateFirmwareBody, TriggerMessageBody,
                         UnlockConnectorBody, UpdateFirmwareBody, ocpp_profile)
from app.services import (certificates, commands, data_transfers, file_transfers, local_lists, reservations, security,
                          smart_charging)
from app.timeutil import utcnow


@dataclass(frozen=True)
class Command:
    name: str  # as in the API's path and the console's form: remote-start
    label: str  # for a person: Remote start
    body_schema: type[Schema]
    run: Callable[[dict], object]  # the loaded body -> the one service call's outcome
    result_schema: type[Schema]
    description: str  # what it does (the OpenAPI operation's summary and description)


def _remote_start(body: dict):
    # With a chargingProfile (a TxProfile), it is stored and numbered first (smart charging's rule).
    if "charging_profile" in body:
        return smart_charging.remote_start(body["charge_point_id"], body["id_tag"], body.get("connector_id"),
                                           ocpp_profile(body["charging_profile"]))
    return commands.remote_start(body["charge_point_id"], body["id_tag"], body.get("connector_id"))


_TABLE = [
    ("remote-start", "Remote start", RemoteStartBody, _remote_start, ChargingProfileResultSchema,
     "RemoteStartTransaction; with a chargingProfile (a TxProfile), it is stored and numbered first"),
    ("remote-stop", "Remote stop", RemoteStopBody, lambda b: commands.remote_stop(
        b["charge_point_id"], b.get("transaction_id"), b.get("connector_id")), CommandResultSchema,
     "RemoteStopTransaction, by transactionId or by the connector it runs on"),
    ("reset", "Reset", ResetBody, lambda b: commands.reset(b["charge_point_id"], b["type"]), CommandResultSchema,
     "Reset (Soft or Hard)"),
    ("unlock-connector", "Unlock connector", UnlockConnectorBody, lambda b: commands.unlock_connector(
        b["charge_point_id"], b["connector_id"]), CommandResultSchema, "UnlockConnector"),
    ("get-configuration", "Get configuration", GetConfigurationBody, lambda b: commands.get_configuration(
        b["charge_point_id"], b["keys"]), CommandResultSchema,
     "GetConfiguration with a list of keys (all keys when absent)"),
    ("change-configuration", "Change configuration", ChangeConfigurationBody, lambda b: commands.change_configuration(
        b["charge_point_id"], b["key"], b["value"]), CommandResultSchema, "ChangeConfiguration"),
    ("change-password", "Change password", ChangePasswordBody, lambda b: security.change_authorization_key(
        b["charge_point_id"], b["password"]), CommandResultSchema,
     "Change the charge point's password in one step: ChangeConfiguration(AuthorizationKey); stored once it\n"
     "accepts (the old one is accepted until it connects with the new one); unchanged otherwise"),
    ("clear-cache", "Clear cache", ChargePointCommandBody, lambda b: commands.clear_cache(b["charge_point_id"]),
     CommandResultSchema, "ClearCache"),
    ("trigger-message", "Trigger message", TriggerMessageBody, lambda b: commands.trigger_message(
        b["charge_point_id"], b["requested_message"], b.get("connector_id")), CommandResultSchema,
     "TriggerMessage: BootNotification, DiagnosticsStatusNotification, FirmwareStatusNotification,\n"
     "Heartbeat, MeterValues or StatusNotification"),
    ("change-availability", "Change availability", ChangeAvailabilityBody, lambda b: commands.change_availability(
        b["charge_point_id"], b["connector_id"], b["type"]), CommandResultSchema,
     "ChangeAvailability (Inoperative or Operative), connector 0 for the whole charge point"),
    ("generic", "Generic command", GenericCommandBody, lambda b: commands.generic(
        b["charge_point_id"], b["action"], b["payload"]), CommandResultSchema,
     "Any central-system-initiated OCPP 1.6 action, its payload validated against the action's schema"),
    ("data-transfer", "Data transfer", DataTransferBody, lambda b: data_transfers.send(
        b["charge_point_id"], b["vendor_id"], b.get("message_id"), b.get("data")), CommandResultSchema,
     "DataTransfer to the charge point; stored with its answer (see /api/charge-points/:id/data-transfers)"),
    ("update-firmware", "Update firmware", UpdateFirmwareBody, lambda b: file_transfers.update_firmware(
        b["charge_point_id"], b["location"], b.get("retrieve_date") or utcnow(), b.get("retries"),
        b.get("retry_interval")), CommandResultSchema,
     "UpdateFirmware; its progress arrives with FirmwareStatusNotification (see /api/charge-points/:id/file-transfers)"),
    ("get-diagnostics", "Get diagnostics", GetDiagnosticsBody, lambda b: file_transfers.get_diagnostics(
        b["charge_point_id"], b["location"], b.get("start_time"), b.get("stop_time"), b.get("retries"),
        b.get("retry_interval")), CommandResultSchema,
     "GetDiagnostics; the answer carries the fileName the charge point will upload"),
    ("send-local-list", "Send local list", SendLocalListBody, lambda b: local_lists.sync(
        b["charge_point_id"], b.get("update_type")), CommandResultSchema,
     "SendLocalList from the authorizations: Differential (only what changed since the version the charge\n"
     "point holds) or Full"),
    ("get-local-list-version", "Get local list version", ChargePointCommandBody, lambda b: local_lists.get_version(
        b["charge_point_id"]), CommandResultSchema,
     "GetLocalListVersion; a version other than the one sent makes the next sync Full"),
    ("reserve-now", "Reserve now", ReserveNowBody, lambda b: reservations.reserve(
        b["charge_point_id"], b["connector_id"], b["id_tag"], b["expiry_date"], b.get("parent_id_tag")),
     ReservationResultSchema, "ReserveNow: the reservation is stored (its id is the reservationId) with the status answered"),
    ("cancel-reservation", "Cancel reservation", CancelReservationBody, lambda b: reservations.cancel(
        b["charge_point_id"], b["reservation_id"]), ReservationResultSchema, "CancelReservation"),
    ("set-charging-profile", "Set charging profile", SetChargingProfileBody, lambda b: smart_charging.set_profile(
        b["charge_point_id"], b["connector_id"], ocpp_profile(b["cs_charging_profiles"])), ChargingProfileResultSchema,
     "SetChargingProfile: checked (schema and OCPP's rules), stored and numbered, then sent"),
    ("clear-charging-profile", "Clear charging profile", ClearChargingProfileBody, lambda b: smart_charging.clear(
        b["charge_point_id"], b.get("id"), b.get("connector_id"), b.get("charging_profile_purpose"),
        b.get("stack_level")), CommandResultSchema,
     "ClearChargingProfile by id, or by connectorId, chargingProfilePurpose and stackLevel"),
    ("get-composite-schedule", "Get composite schedule", GetCompositeScheduleBody,
     lambda b: smart_charging.composite_schedule(b["charge_point_id"], b["connector_id"], b["duration"],
                                                 b.get("charging_rate_unit")), CommandResultSchema,
     "GetCompositeSchedule: the schedule the charge point will apply, as it answers it"),
    # --- the Security Whitepaper's commands ---
    ("install-certificate", "Install certificate", InstallCertificateBody, lambda b: certificates.install(
        b["charge_point_id"], b["certificate_type"], b["certificate"]), InstallCertificateResultSchema,
     "InstallCertificate; where Accepted, it joins the charge point's certificate inventory"),
    ("get-installed-certificate-ids", "Get installed certificate ids", GetInstalledCertificateIdsBody,
     lambda b: certificates.refresh(b["charge_point_id"], b["certificate_type"]), InstalledCertificatesResultSchema,
     "GetInstalledCertificateIds; the inventory of that certificateType becomes what the charge point reports"),
    ("delete-certificate", "Delete certificate", DeleteCertificateBody, lambda b: certificates.delete_certificate(
        b["charge_point_id"], b.get("certificate_id"), b.get("certificate"), b.get("certificate_hash_data")),
     DeleteCertificateResultSchema,
     "DeleteCertificate by certificateId (the inventory), a PEM (hash data computed, SHA-256) or certificateHashData"),
    ("certificate-signed", "Certificate signed", CertificateSignedBody, lambda b: certificates.certificate_signed(
        b["charge_point_id"], b["certificate_chain"], b.get("csr_id")), CommandResultSchema,
     "CertificateSigned: a certificate chain signed by an external CA; with csrId, the stored CSR takes the answer"),
    ("get-log", "Get log", GetLogBody, lambda b: file_transfers.get_log(
        b["charge_point_id"], b["log_type"], b["remote_location"], b.get("oldest_timestamp"),
        b.get("latest_timestamp"), b.get("retries"), b.get("retry_interval")), NumberedRequestResultSchema,
     "GetLog (DiagnosticsLog or SecurityLog); the requestId is given by the server, the answer names the file"),
    ("signed-update-firmware", "Signed update firmware", SignedUpdateFirmwareBody,
     lambda b: file_transfers.signed_update_firmware(
         b["charge_point_id"], b["location"], b.get("retrieve_date_time") or utcnow(), b["signing_certificate"],
         b["signature"], b.get("install_date_time"), b.get("retries"), b.get("retry_interval")),
     NumberedRequestResultSchema,
     "SignedUpdateFirmware; the requestId is given by the server, progress comes with\n"
     "SignedFirmwareStatusNotification"),
    ("extended-trigger-message", "Extended trigger message", ExtendedTriggerMessageBody,
     lambda b: commands.extended_trigger_message(b["charge_point_id"], b["requested_message"], b.get("connector_id")),
     CommandResultSchema, "ExtendedTriggerMessage, e.g. SignChargePointCertificate or LogStatusNotification"),
]

COMMANDS: dict[str, Command] = {row[0]: Command(*row) for row in _TABLE}
