"""Commands: each a real OCPP CALL to the connected charge point; the answer carries its reply."""
from app.api.blueprint import Blueprint
from app.errors import ErrorSchema
from app.schemas import (CancelReservationBody, CertificateSignedBody, ChangeAvailabilityBody, ChangeConfigurationBody,
                         ChangePasswordBody, ChargePointCommandBody, DeleteCertificateBody, DeleteCertificateResultSchema,
                         ExtendedTriggerMessageBody, GetInstalledCertificateIdsBody, GetLogBody,
                         InstallCertificateBody, InstallCertificateResultSchema, InstalledCertificatesResultSchema,
                         NumberedRequestResultSchema, SignedUpdateFirmwareBody,
                         ChargingProfileResultSchema, ClearChargingProfileBody, CommandResultSchema, DataTransferBody,
                         GenericCommandBody, GetCompositeScheduleBody, GetConfigurationBody, GetConfigurationQuery,
                         GetDiagnosticsBody, RemoteStartBody, RemoteStopBody, ReservationResultSchema, ReserveNowBody,
                         ResetBody, SendLocalListBody, SetChargingProfileBody, TriggerMessageBody, UnlockConnectorBody,
                         UpdateFirmwareBody, ocpp_profile)
from app.services import (certificates, commands, data_transfers, file_transfers, local_lists, reservations, security,
                          smart_charging)
from app.timeutil import utcnow

bp = Blueprint("commands", __name__, url_prefix="/api/commands", description=(
    "OCPP commands to a connected charge point. 200 when it answered (success says whether it accepted), "
    "404 unknown charge point, 409 not connected, 502 it answered with a CALLERROR, 504 no answer in time."))


def command(path: str, body_schema, methods=("POST",), location="json", result_schema=CommandResultSchema):
    """Route a command view: body (or query) validated by body_schema, the outcome as result_schema."""
    def decorate(view):
        view = bp.response(200, result_schema)(view)
        for status, description in ((404, "Unknown charge point"), (409, "Charge point not connected"),
                                    (502, "The charge point answered with a CALLERROR"),
                                    (504, "The charge point did not answer in time")):
            view = bp.alt_response(status, schema=ErrorSchema, description=description)(view)
        view = bp.arguments(body_schema, location=location)(view)
        return bp.route(path, methods=list(methods))(view)
    return decorate


@command("/remote-start", RemoteStartBody, result_schema=ChargingProfileResultSchema)
def remote_start(body):
    """RemoteStartTransaction; with a chargingProfile (a TxProfile), it is stored and numbered first"""
    if "charging_profile" in body:
        return smart_charging.remote_start(body["charge_point_id"], body["id_tag"], body.get("connector_id"),
                                           ocpp_profile(body["charging_profile"]))
    return commands.remote_start(body["charge_point_id"], body["id_tag"], body.get("connector_id"))


@command("/remote-stop", RemoteStopBody)
def remote_stop(body):
    """RemoteStopTransaction, by transactionId or by the connector it runs on"""
    return commands.remote_stop(body["charge_point_id"], body.get("transaction_id"), body.get("connector_id"))


@command("/reset", ResetBody)
def reset(body):
    """Reset (Soft or Hard)"""
    return commands.reset(body["charge_point_id"], body["type"])


@command("/unlock-connector", UnlockConnectorBody)
def unlock_connector(body):
    """UnlockConnector"""
    return commands.unlock_connector(body["charge_point_id"], body["connector_id"])


@command("/get-configuration", GetConfigurationQuery, methods=("GET",), location="query")
def get_configuration_by_query(query):
    """GetConfiguration, keys=key1,key2 (all keys when absent)"""
    keys = [key.strip() for key in (query["keys"] or "").split(",") if key.strip()]
    return commands.get_configuration(query["charge_point_id"], keys)


@command("/get-configuration", GetConfigurationBody)
def get_configuration(body):
    """GetConfiguration with a list of keys (all keys when absent)"""
    return commands.get_configuration(body["charge_point_id"], body["keys"])


@command("/change-configuration", ChangeConfigurationBody)
def change_configuration(body):
    """ChangeConfiguration"""
    return commands.change_configuration(body["charge_point_id"], body["key"], body["value"])


@command("/change-password", ChangePasswordBody)
def change_password(body):
    """Change the charge point's password in one step: ChangeConfiguration(AuthorizationKey); stored once it
    accepts (the old one is accepted until it connects with the new one); unchanged otherwise"""
    return security.change_authorization_key(body["charge_point_id"], body["password"])


@command("/clear-cache", ChargePointCommandBody)
def clear_cache(body):
    """ClearCache"""
    return commands.clear_cache(body["charge_point_id"])


@command("/trigger-message", TriggerMessageBody)
def trigger_message(body):
    """TriggerMessage: BootNotification, DiagnosticsStatusNotification, FirmwareStatusNotification,
    Heartbeat, MeterValues or StatusNotification"""
    return commands.trigger_message(body["charge_point_id"], body["requested_message"], body.get("connector_id"))


@command("/change-availability", ChangeAvailabilityBody)
def change_availability(body):
    """ChangeAvailability (Inoperative or Operative), connector 0 for the whole charge point"""
    return commands.change_availability(body["charge_point_id"], body["connector_id"], body["type"])


@command("/generic", GenericCommandBody)
def generic(body):
    """Any central-system-initiated OCPP 1.6 action, its payload validated against the action's schema"""
    return commands.generic(body["charge_point_id"], body["action"], body["payload"])


@command("/data-transfer", DataTransferBody)
def data_transfer(body):
    """DataTransfer to the charge point; stored with its answer (see /api/charge-points/:id/data-transfers)"""
    return data_transfers.send(body["charge_point_id"], body["vendor_id"], body.get("message_id"), body.get("data"))


@command("/update-firmware", UpdateFirmwareBody)
def update_firmware(body):
    """UpdateFirmware; its progress arrives with FirmwareStatusNotification (see /api/charge-points/:id/file-transfers)"""
    return file_transfers.update_firmware(body["charge_point_id"], body["location"], body.get("retrieve_date") or utcnow(),
                                          body.get("retries"), body.get("retry_interval"))


@command("/get-diagnostics", GetDiagnosticsBody)
def get_diagnostics(body):
    """GetDiagnostics; the answer carries the fileName the charge point will upload"""
    return file_transfers.get_diagnostics(body["charge_point_id"], body["location"], body.get("start_time"),
                                          body.get("stop_time"), body.get("retries"), body.get("retry_interval"))


@command("/send-local-list", SendLocalListBody)
def send_local_list(body):
    """SendLocalList from the authorizations: Differential (only what changed since the version the charge
    point holds) or Full"""
    return local_lists.sync(body["charge_point_id"], body.get("update_type"))


@command("/get-local-list-version", ChargePointCommandBody)
def get_local_list_version(body):
    """GetLocalListVersion; a version other than the one sent makes the next sync Full"""
    return local_lists.get_version(body["charge_point_id"])


@command("/reserve-now", ReserveNowBody, result_schema=ReservationResultSchema)
def reserve_now(body):
    """ReserveNow: the reservation is stored (its id is the reservationId) with the status answered"""
    return reservations.reserve(body["charge_point_id"], body["connector_id"], body["id_tag"], body["expiry_date"],
                                body.get("parent_id_tag"))


@command("/cancel-reservation", CancelReservationBody, result_schema=ReservationResultSchema)
def cancel_reservation(body):
    """CancelReservation"""
    return reservations.cancel(body["charge_point_id"], body["reservation_id"])


@command("/set-charging-profile", SetChargingProfileBody, result_schema=ChargingProfileResultSchema)
def set_charging_profile(body):
    """SetChargingProfile: checked (schema and OCPP's rules), stored and numbered, then sent"""
    return smart_charging.set_profile(body["charge_point_id"], body["connector_id"],
                                      ocpp_profile(body["cs_charging_profiles"]))


@command("/clear-charging-profile", ClearChargingProfileBody)
def clear_charging_profile(body):
    """ClearChargingProfile by id, or by connectorId, chargingProfilePurpose and stackLevel"""
    return smart_charging.clear(body["charge_point_id"], body.get("id"), body.get("connector_id"),
                                body.get("charging_profile_purpose"), body.get("stack_level"))


@command("/get-composite-schedule", GetCompositeScheduleBody)
def get_composite_schedule(body):
    """GetCompositeSchedule: the schedule the charge point will apply, as it answers it"""
    return smart_charging.composite_schedule(body["charge_point_id"], body["connector_id"], body["duration"],
                                             body.get("charging_rate_unit"))


# --- the Security Whitepaper's commands ---

@command("/install-certificate", InstallCertificateBody, result_schema=InstallCertificateResultSchema)
def install_certificate(body):
    """InstallCertificate; where Accepted, it joins the charge point's certificate inventory"""
    return certificates.install(body["charge_point_id"], body["certificate_type"], body["certificate"])


@command("/get-installed-certificate-ids", GetInstalledCertificateIdsBody,
         result_schema=InstalledCertificatesResultSchema)
def get_installed_certificate_ids(body):
    """GetInstalledCertificateIds; the inventory of that certificateType becomes what the charge point reports"""
    return certificates.refresh(body["charge_point_id"], body["certificate_type"])


@command("/delete-certificate", DeleteCertificateBody, result_schema=DeleteCertificateResultSchema)
def delete_certificate(body):
    """DeleteCertificate by certificateId (the inventory), a PEM (hash data computed, SHA-256) or certificateHashData"""
    return certificates.delete_certificate(body["charge_point_id"], body.get("certificate_id"), body.get("certificate"),
                                           body.get("certificate_hash_data"))


@command("/certificate-signed", CertificateSignedBody)
def certificate_signed(body):
    """CertificateSigned: a certificate chain signed by an external CA; with csrId, the stored CSR takes the answer"""
    return certificates.certificate_signed(body["charge_point_id"], body["certificate_chain"], body.get("csr_id"))


@command("/get-log", GetLogBody, result_schema=NumberedRequestResultSchema)
def get_log(body):
    """GetLog (DiagnosticsLog or SecurityLog); the requestId is given by the server, the answer names the file"""
    return file_transfers.get_log(body["charge_point_id"], body["log_type"], body["remote_location"],
                                  body.get("oldest_timestamp"), body.get("latest_timestamp"), body.get("retries"),
                                  body.get("retry_interval"))


@command("/signed-update-firmware", SignedUpdateFirmwareBody, result_schema=NumberedRequestResultSchema)
def signed_update_firmware(body):
    """SignedUpdateFirmware; the requestId is given by the server, progress comes with
    SignedFirmwareStatusNotification"""
    return file_transfers.signed_update_firmware(
        body["charge_point_id"], body["location"], body.get("retrieve_date_time") or utcnow(),
        body["signing_certificate"], body["signature"], body.get("install_date_time"), body.get("retries"),
        body.get("retry_interval"))


@command("/extended-trigger-message", ExtendedTriggerMessageBody)
def extended_trigger_message(body):
    """ExtendedTriggerMessage, e.g. SignChargePointCertificate or LogStatusNotification"""
    return commands.extended_trigger_message(body["charge_point_id"], body["requested_message"],
                                             body.get("connector_id"))
