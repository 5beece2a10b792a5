"""Marshmallow schemas of the REST API: what comes in (validated) and what goes out (camelCase JSON).

Attributes are snake_case and become camelCase on the wire. Times go out as ISO 8601 UTC with Z.
Energy is in kWh where the API speaks of energy (energyDelivered, finalEnergy), in Wh where OCPP does
(meterStart, meterStop).
"""
from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates_schema
from ocpp.v16.enums import (AuthorizationStatus, AvailabilityType, CertificateUse, ChargingProfileKindType,
                            ChargingProfilePurposeType, ChargingRateUnitType, Log, MessageTrigger, RecurrencyKind,
                            RegistrationStatus, ResetType, UpdateType)

from app.services.system_log import LEVELS
from app.spec import datatypes
from app.spec.datatypes import INT32_MAX, INT32_MIN, isoformat, parse_timestamp
from app.spec.schemas import CENTRAL_SYSTEM_ACTIONS

MAX_PAGE = 1000
MAX_REPORT_DAYS = 366


def camel_case(name: str) -> str:
    head, *tail = name.split("_")
    return head + "".join(word.capitalize() for word in tail)


class CamelCaseSchema(Schema):
    def on_bind_field(self, field_name, field_obj):
        field_obj.data_key = camel_case(field_obj.data_key or field_name)


class Timestamp(fields.Field):
    """ISO 8601 in UTC with Z on the way out; any ISO 8601 date-time on the way in (no offset: UTC).

    Null where there is no such time (yet): lastHeartbeat before the first heartbeat, and so on."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Not a valid ISO 8601 date-time.")
        try:
            return parse_timestamp(value)
        except ValueError:
            raise ValidationError("Not a valid ISO 8601 date-time.") from None


def one_of(values) -> validate.OneOf:
    return validate.OneOf([str(value) for value in values])


# OCPP's integers (transactionId, connectorId ...) are 32-bit (datatypes); so are the columns that keep them.


def strict_integer(minimum: int = INT32_MIN, maximum: int = INT32_MAX, **kwargs) -> fields.Integer:
    """An integer given as a JSON number (not "1"), within 32 bits."""
    return fields.Integer(strict=True, validate=validate.Range(minimum, maximum), **kwargs)


PRINTABLE_ASCII = r"^[\x20-\x7E]*$"


def _charge_point_id_rule(value: str) -> None:
    problem = datatypes.charge_point_id_problem(value)
    if problem:
        raise ValidationError(problem)


def charge_point_id_field(**kwargs) -> fields.String:
    """A charge point id, by the one rule of the spec (datatypes.charge_point_id_problem)."""
    return fields.String(validate=_charge_point_id_rule, **kwargs)


ChargePointId = charge_point_id_field(required=True)
IdTagValue = fields.String(validate=validate.Length(1, datatypes.ID_TAG_LENGTH))


# --- responses ---

class DatabaseStatusSchema(CamelCaseSchema):
    type = fields.String(metadata={"description": "sqlite or postgres"})
    connected = fields.Boolean(metadata={"description": "Whether the database answered just now"})


class MessageBusStatusSchema(CamelCaseSchema):
    type = fields.String(metadata={"description": "redis"})
    connected = fields.Boolean(metadata={"description": "Whether Redis answered just now"})


class StatusSchema(CamelCaseSchema):
    status = fields.String(metadata={"description": "running"})
    server_time = Timestamp()
    system_name = fields.String()
    version = fields.String()
    uptime_seconds = fields.Integer()
    charge_points_total = fields.Integer(allow_none=True, metadata={"description": "null when the database is down"})
    charge_points_connected = fields.Integer(allow_none=True, metadata={
        "description": "null when the message bus (Redis) is down: only it knows the other processes' charge points"})
    active_transactions = fields.Integer(allow_none=True, metadata={"description": "null when the database is down"})
    database = fields.Nested(DatabaseStatusSchema)
    message_bus = fields.Nested(MessageBusStatusSchema, allow_none=True,
                                metadata={"description": "Redis (REDIS_URL); null without it"})


class ConnectorSchema(CamelCaseSchema):
    charge_point_id = fields.String()
    connector_id = fields.Integer()
    status = fields.String()
    error_code = fields.String()
    info = fields.String(allow_none=True)
    vendor_id = fields.String(allow_none=True)
    vendor_error_code = fields.String(allow_none=True)
    status_timestamp = Timestamp(metadata={"description": "When the status began, by the charge point's clock"})
    updated_at = Timestamp()
    current_transaction_id = fields.Integer(allow_none=True)
    current_power = fields.Float(allow_none=True, metadata={
        "description": "W, the last Power.Active.Import of the running transaction"})


class ChargePointSchema(CamelCaseSchema):
    id = fields.String()
    vendor = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    serial_number = fields.String(allow_none=True)
    charge_box_serial_number = fields.String(allow_none=True)
    firmware_version = fields.String(allow_none=True)
    iccid = fields.String(allow_none=True)
    imsi = fields.String(allow_none=True)
    meter_type = fields.String(allow_none=True)
    meter_serial_number = fields.String(allow_none=True)
    status = fields.String(allow_none=True, metadata={
        "description": "The status of connector 0 (the charge point as a whole), when it reported one"})
    registration_status = fields.String(allow_none=True, metadata={
        "description": "Accepted, Pending or Rejected, as answered to its last BootNotification"})
    is_connected = fields.Boolean()
    heartbeat_interval = fields.Integer(allow_none=True)
    last_heartbeat = Timestamp()
    last_boot_notification = Timestamp()
    last_seen = Timestamp()
    connected_at = Timestamp()
    disconnected_at = Timestamp()
    validation_mode = fields.String(allow_none=True, metadata={"description": "strict or lenient; null: the server's"})
    security_profile = fields.Integer(allow_none=True, metadata={
        "description": "OCPP security profile 0-3; null: the server's (OCPP_SECURITY_PROFILE)"})
    has_password = fields.Boolean(metadata={"description": "Whether a password (AuthorizationKey) is set"})
    firmware_status = fields.String(allow_none=True)
    diagnostics_status = fields.String(allow_none=True)
    log_status = fields.String(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()


class ChargePointDetailSchema(ChargePointSchema):
    connectors = fields.List(fields.Nested(ConnectorSchema))


class MeterValueSchema(CamelCaseSchema):
    timestamp = Timestamp()
    connector_id = fields.Integer()
    value = fields.String()
    measurand = fields.String()
    unit = fields.String()
    context = fields.String()
    phase = fields.Function(lambda sample: sample["phase"] or None)
    location = fields.String()
    format = fields.String()


class TransactionSchema(CamelCaseSchema):
    transaction_id = fields.Integer()
    charge_point_id = fields.String()
    connector_id = fields.Integer()
    id_tag = fields.String()
    id_tag_status = fields.String(metadata={"description": "The idTagInfo status answered at the start"})
    start_timestamp = Timestamp()
    stop_timestamp = Timestamp()
    meter_start = fields.Integer(metadata={"description": "Wh"})
    meter_stop = fields.Integer(allow_none=True, metadata={"description": "Wh"})
    energy_delivered = fields.Float(metadata={
        "description": "kWh: meterStop - meterStart, or up to the last energy register reading while running"})
    stop_reason = fields.String(allow_none=True)
    stop_id_tag = fields.String(allow_none=True)
    stopped_by = fields.String(allow_none=True, metadata={"description": "ChargePoint or CentralSystem"})
    reservation_id = fields.Integer(allow_none=True)
    offline_flagged_at = Timestamp(metadata={
        "description": "When it was found running while its charge point was offline"})
    is_complete = fields.Boolean()


class TransactionDetailSchema(TransactionSchema):
    meter_values = fields.List(fields.Nested(MeterValueSchema))


class LogSchema(CamelCaseSchema):
    id = fields.Integer()
    timestamp = Timestamp()
    level = fields.String()
    charge_point_id = fields.String(allow_none=True)
    event = fields.String()
    message = fields.String()
    details = fields.Dict(allow_none=True)


class SecurityEventSchema(CamelCaseSchema):
    id = fields.Integer()
    type = fields.String(metadata={"description": "as the charge point reported it, e.g. TamperDetectionActivated"})
    timestamp = Timestamp(metadata={"description": "when it happened, by the charge point's clock"})
    tech_info = fields.String(allow_none=True)
    received_at = Timestamp()


class CertificateSigningRequestSchema(CamelCaseSchema):
    id = fields.Integer()
    csr = fields.String(metadata={"description": "PEM-encoded PKCS#10"})
    received_at = Timestamp()
    status = fields.String(allow_none=True, metadata={
        "description": "Stored (awaits an external CA), Refused (failed the built-in CA's checks), Issued "
                       "(signed by the built-in CA), then the answer to CertificateSigned: Accepted, Rejected, "
                       "or Failed (none)"})
    reason = fields.String(allow_none=True, metadata={"description": "Why it was refused or failed"})
    certificate = fields.String(allow_none=True, metadata={"description": "The certificate chain sent (PEM)"})


class CertificateHashDataSchema(Schema):
    """OCPP's CertificateHashDataType, as on the wire."""
    hashAlgorithm = fields.String(required=True, validate=validate.OneOf(["SHA256", "SHA384", "SHA512"]))
    issuerNameHash = fields.String(required=True, validate=validate.Length(1, 128))
    issuerKeyHash = fields.String(required=True, validate=validate.Length(1, 128))
    serialNumber = fields.String(required=True, validate=validate.Length(1, 40))


class InstalledCertificateSchema(CamelCaseSchema):
    id = fields.Integer(metadata={"description": "certificateId, to delete it by"})
    certificate_type = fields.String(metadata={"description": "CentralSystemRootCertificate or "
                                                              "ManufacturerRootCertificate"})
    certificate_hash_data = fields.Function(lambda entry: {
        "hashAlgorithm": entry.hash_algorithm, "issuerNameHash": entry.issuer_name_hash,
        "issuerKeyHash": entry.issuer_key_hash, "serialNumber": entry.serial_number})
    certificate = fields.String(allow_none=True, metadata={
        "description": "The PEM, where the central system installed it (null: only reported by the charge point)"})
    created_at = Timestamp()
    updated_at = Timestamp()


class DataTransferSchema(CamelCaseSchema):
    id = fields.Integer()
    initiated_by = fields.String(metadata={"description": "ChargePoint (it sent the DataTransfer) or CentralSystem"})
    vendor_id = fields.String()
    message_id = fields.String(allow_none=True)
    data = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "The answer: Accepted, Rejected, UnknownMessageId, "
                                                    "UnknownVendorId; Failed when the charge point gave none"})
    response_data = fields.String(allow_none=True, metadata={"description": "The data of the answer"})
    timestamp = Timestamp(attribute="received_at", metadata={"description": "When it was received or sent"})


class IdTagSchema(CamelCaseSchema):
    id_tag = fields.String()
    status = fields.String()
    expiry_date = Timestamp(allow_none=True)
    parent_id_tag = fields.String(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()


class CommandResultSchema(CamelCaseSchema):
    """success and message, then the charge point's CALLRESULT fields as it sent them (e.g. status)."""
    success = fields.Boolean(required=True, metadata={"description": "True when the charge point accepted"})
    message = fields.String(required=True)
    action = fields.String()
    charge_point_id = fields.String()
    transaction_id = fields.Integer(metadata={"description": "remote-stop: the transaction asked to stop"})
    result = fields.Dict(allow_none=True, metadata={"description": "generic: the CALLRESULT payload"})

    @post_dump(pass_original=True)
    def add_reply(self, data, outcome, **_):
        # transactionId and result belong to remote-stop and generic only
        ours = {key: value for key, value in data.items() if value is not None or key not in ("transactionId", "result")}
        return {**outcome.reply, **ours}


class ReservationSchema(CamelCaseSchema):
    reservation_id = fields.Integer(attribute="id")
    charge_point_id = fields.String()
    connector_id = fields.Integer()
    id_tag = fields.String()
    parent_id_tag = fields.String(allow_none=True)
    expiry_date = Timestamp()
    status = fields.String(metadata={"description": "Requested, Accepted (active), Faulted, Occupied, Rejected, "
                                                    "Unavailable, Failed, Cancelled, Expired or Used"})
    transaction_id = fields.Integer(allow_none=True, metadata={"description": "The transaction that used it"})
    created_at = Timestamp()
    updated_at = Timestamp()


class ReservationResultSchema(CommandResultSchema):
    reservation = fields.Nested(ReservationSchema, attribute="subject")


class StoredChargingProfileSchema(CamelCaseSchema):
    charging_profile_id = fields.Integer(attribute="id")
    charge_point_id = fields.String()
    connector_id = fields.Integer(allow_none=True, metadata={
        "description": "null: sent with a RemoteStartTransaction without connectorId"})
    stack_level = fields.Integer()
    charging_profile_purpose = fields.String(attribute="purpose")
    charging_profile_kind = fields.String(attribute="kind")
    recurrency_kind = fields.String(allow_none=True)
    valid_from = Timestamp()
    valid_to = Timestamp()
    transaction_id = fields.Integer(allow_none=True)
    charging_schedule = fields.Dict(attribute="schedule")
    status = fields.String(metadata={"description": "Requested, Accepted, Rejected, NotSupported, Failed, Replaced "
                                                    "or Cleared"})
    created_at = Timestamp()
    updated_at = Timestamp()


class ChargingProfileResultSchema(CommandResultSchema):
    charging_profile = fields.Nested(StoredChargingProfileSchema, attribute="subject")


class InstallCertificateResultSchema(CommandResultSchema):
    installed_certificate = fields.Nested(InstalledCertificateSchema, attribute="subject", allow_none=True,
                                          metadata={"description": "The inventory entry, where Accepted"})


class InstalledCertificatesResultSchema(CommandResultSchema):
    installed_certificates = fields.List(fields.Nested(InstalledCertificateSchema), attribute="subject", metadata={
        "description": "The inventory of that certificateType, as the charge point reported it"})


class DeleteCertificateResultSchema(CommandResultSchema):
    certificate_hash_data = fields.Nested(CertificateHashDataSchema, attribute="subject",
                                          metadata={"description": "What was sent"})


class NumberedRequestResultSchema(CommandResultSchema):
    request_id = fields.Integer(attribute="subject", metadata={
        "description": "The requestId given by the server (see /api/charge-points/:id/file-transfers)"})


class ConfigurationKeySchema(CamelCaseSchema):
    key = fields.String()
    value = fields.String(allow_none=True, metadata={"description": "*** for AuthorizationKey"})
    readonly = fields.Boolean(allow_none=True)
    updated_at = Timestamp()


class FileTransferStatusChangeSchema(CamelCaseSchema):
    kind = fields.String(metadata={"description": "firmware, diagnostics or log"})
    status = fields.String()
    request_id = fields.Integer(allow_none=True)
    received_at = Timestamp()


class FileTransferRequestSchema(CamelCaseSchema):
    request_id = fields.Integer(attribute="id", metadata={"description": "The requestId of GetLog and "
                                                                         "SignedUpdateFirmware"})
    kind = fields.String(metadata={"description": "firmware (UpdateFirmware, SignedUpdateFirmware), diagnostics "
                                                  "(GetDiagnostics) or log (GetLog)"})
    location = fields.String()
    retrieve_date = Timestamp()
    start_time = Timestamp()
    stop_time = Timestamp()
    retries = fields.Integer(allow_none=True)
    retry_interval = fields.Integer(allow_none=True)
    file_name = fields.String(allow_none=True, metadata={"description": "GetDiagnostics: the file it will upload"})
    status = fields.String(metadata={"description": "Requested, the status answered (Accepted where the answer has "
                                                    "none), or Failed: sent, but no valid answer came"})
    requested_at = Timestamp()


class FileTransfersSchema(CamelCaseSchema):
    charge_point_id = fields.String()
    firmware_status = fields.String(allow_none=True)
    firmware_status_at = Timestamp()
    diagnostics_status = fields.String(allow_none=True)
    diagnostics_status_at = Timestamp()
    log_status = fields.String(allow_none=True)
    log_status_at = Timestamp()
    status_changes = fields.List(fields.Nested(FileTransferStatusChangeSchema))
    requests = fields.List(fields.Nested(FileTransferRequestSchema))


class LocalListSyncResultSchema(CamelCaseSchema):
    charge_point_id = fields.String()
    success = fields.Boolean()
    message = fields.String()
    status = fields.String(allow_none=True, metadata={"description": "What the charge point answered"})


class MessageSchema(CamelCaseSchema):
    success = fields.Boolean()
    message = fields.String()


class CloseTransactionResultSchema(MessageSchema):
    transaction_id = fields.Integer()
    energy_delivered = fields.Float(metadata={"description": "kWh"})
    transaction = fields.Nested(TransactionSchema)


class ReportTransactionSchema(CamelCaseSchema):
    charge_point_id = fields.String()
    transaction_id = fields.Integer()
    start_timestamp = Timestamp()
    stop_timestamp = Timestamp()
    energy_delivered = fields.Float(metadata={"description": "kWh"})
    id_tag = fields.String()
    complete = fields.Boolean()


class EnergyTotalSchema(CamelCaseSchema):
    energy_delivered = fields.Float(metadata={"description": "kWh"})
    transaction_count = fields.Integer()


class ChargePointEnergySchema(EnergyTotalSchema):
    charge_point_id = fields.String()


class DayEnergySchema(EnergyTotalSchema):
    date = fields.Date()


class EnergyReportSchema(CamelCaseSchema):
    start_date = fields.Date()
    end_date = fields.Date()
    total_energy_delivered = fields.Float(metadata={"description": "kWh"})
    transaction_count = fields.Integer()
    complete_transactions = fields.Integer()
    incomplete_transactions = fields.Integer()
    by_charge_point = fields.List(fields.Nested(ChargePointEnergySchema))
    by_day = fields.List(fields.Nested(DayEnergySchema))
    transactions = fields.List(fields.Nested(ReportTransactionSchema))


# --- queries ---

class PageQuery(CamelCaseSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, INT32_MAX))


class ChargePointQuery(PageQuery):
    limit = fields.Integer(load_default=MAX_PAGE, validate=validate.Range(1, MAX_PAGE))


class ConnectorQuery(CamelCaseSchema):
    charge_point_id = ChargePointId


class TransactionQuery(PageQuery):
    charge_point_id = charge_point_id_field()
    is_complete = fields.Boolean()
    transaction_id = fields.Integer(validate=validate.Range(INT32_MIN, INT32_MAX))
    limit = fields.Integer(load_default=MAX_PAGE, validate=validate.Range(1, MAX_PAGE))


class LogQuery(PageQuery):
    charge_point_id = charge_point_id_field()
    level = fields.String(validate=validate.OneOf(LEVELS))


class IdTagQuery(CamelCaseSchema):
    id_tag = IdTagValue


class RequiredIdTagQuery(CamelCaseSchema):
    id_tag = fields.String(required=True, validate=validate.Length(1, datatypes.ID_TAG_LENGTH))


class EnergyReportQuery(CamelCaseSchema):
    start_date = fields.Date(required=True, metadata={"description": "YYYY-MM-DD, UTC, inclusive"})
    end_date = fields.Date(required=True, metadata={"description": "YYYY-MM-DD, UTC, inclusive"})

    @validates_schema
    def check_range(self, data, **_):
        if data["end_date"] < data["start_date"]:
            raise ValidationError("endDate is before startDate.", "endDate")
        if data["end_date"] - data["start_date"] >= timedelta(days=MAX_REPORT_DAYS):
            raise ValidationError(f"A report covers at most {MAX_REPORT_DAYS} days.", "endDate")


# --- request bodies ---

printable_ascii = validate.Regexp(PRINTABLE_ASCII, error="Must be printable ASCII.")


Password = fields.String(load_only=True, validate=[validate.Length(16, 40), printable_ascii], metadata={
    "description": "The AuthorizationKey (16 to 40 characters) for security profiles 1 and 2; stored hashed"})


class ChargePointSettingsBody(CamelCaseSchema):
    registration_status = fields.String(validate=one_of(RegistrationStatus), metadata={
        "description": "Answered to its BootNotification: Accepted, Pending or Rejected"})
    security_profile = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 3))
    validation_mode = fields.String(allow_none=True, validate=validate.OneOf(["strict", "lenient"]))


class ChargePointRegistrationBody(ChargePointSettingsBody):
    id = charge_point_id_field(required=True)
    registration_status = fields.String(load_default=RegistrationStatus.accepted.value,
                                        validate=one_of(RegistrationStatus))
    password = Password


class PasswordBody(CamelCaseSchema):
    password = fields.String(required=True, load_only=True, validate=[validate.Length(16, 40), printable_ascii],
                             metadata={"description": "The AuthorizationKey, 16 to 40 characters; stored hashed"})


class DeleteChargePointQuery(CamelCaseSchema):
    force = fields.Boolean(load_default=False, metadata={"description": "Delete its transactions too"})

STORABLE_ID_TAG_STATUSES = [status for status in AuthorizationStatus if status != AuthorizationStatus.concurrent_tx]


class IdTagBody(CamelCaseSchema):
    id_tag = fields.String(required=True, validate=validate.Length(1, datatypes.ID_TAG_LENGTH))
    status = fields.String(load_default=AuthorizationStatus.accepted.value, validate=one_of(STORABLE_ID_TAG_STATUSES))
    expiry_date = Timestamp(allow_none=True, load_default=None)
    parent_id_tag = fields.String(allow_none=True, load_default=None, validate=validate.Length(1, datatypes.ID_TAG_LENGTH))


class ChargePointCommandBody(CamelCaseSchema):
    charge_point_id = ChargePointId


class ChargingSchedulePeriodBody(CamelCaseSchema):
    start_period = strict_integer(0, required=True, metadata={"description": "Seconds from the schedule's start"})
    limit = fields.Float(required=True, allow_nan=False, validate=validate.Range(0, 1e6),
                         metadata={"description": "In the chargingRateUnit (A or W); rounded to one decimal"})
    number_phases = strict_integer(1, 3)


class ChargingScheduleBody(CamelCaseSchema):
    duration = strict_integer(0)
    start_schedule = Timestamp(allow_none=False)
    charging_rate_unit = fields.String(required=True, validate=one_of(ChargingRateUnitType))
    charging_schedule_period = fields.List(fields.Nested(ChargingSchedulePeriodBody), required=True,
                                           validate=validate.Length(1, 100))
    min_charging_rate = fields.Float(allow_nan=False, validate=validate.Range(0, 1e6))


class ChargingProfileBody(CamelCaseSchema):
    """An OCPP 1.6 csChargingProfiles without chargingProfileId: the central system numbers its profiles."""
    stack_level = strict_integer(0, required=True)
    charging_profile_purpose = fields.String(required=True, validate=one_of(ChargingProfilePurposeType))
    charging_profile_kind = fields.String(required=True, validate=one_of(ChargingProfileKindType))
    recurrency_kind = fields.String(validate=one_of(RecurrencyKind))
    valid_from = Timestamp(allow_none=False)
    valid_to = Timestamp(allow_none=False)
    transaction_id = strict_integer(metadata={"description": "TxProfile: the running transaction it applies to"})
    charging_schedule = fields.Nested(ChargingScheduleBody, required=True)


def ocpp_profile(profile: dict) -> dict:
    """A loaded ChargingProfileBody as OCPP writes it (camelCase, timestamps as text)."""
    def without_none(value):
        if isinstance(value, dict):
            return {key: without_none(item) for key, item in value.items() if item is not None}
        if isinstance(value, list):
            return [without_none(item) for item in value]
        return value
    return without_none(ChargingProfileBody().dump(profile))


class RemoteStartBody(ChargePointCommandBody):
    id_tag = fields.String(required=True, validate=validate.Length(1, datatypes.ID_TAG_LENGTH))
    connector_id = strict_integer(1)
    charging_profile = fields.Nested(ChargingProfileBody, metadata={
        "description": "A TxProfile for the transaction to start (chargingProfileId is given by the server)"})


class RemoteStopBody(ChargePointCommandBody):
    transaction_id = strict_integer()
    connector_id = strict_integer(1, metadata={"description": "Stops the transaction running on it"})
    reason = fields.String(validate=validate.Length(max=100), metadata={"description": "Kept in the log"})

    @validates_schema
    def transaction_or_connector(self, data, **_):
        if ("transaction_id" in data) == ("connector_id" in data):
            raise ValidationError("Give either transactionId or connectorId.", "transactionId")


class ResetBody(ChargePointCommandBody):
    type = fields.String(load_default=ResetType.soft.value, validate=one_of(ResetType))


class UnlockConnectorBody(ChargePointCommandBody):
    connector_id = strict_integer(1, required=True)


class GetConfigurationBody(ChargePointCommandBody):
    keys = fields.List(fields.String(validate=validate.Length(1, 50)), load_default=None)


class GetConfigurationQuery(ChargePointCommandBody):
    keys = fields.String(load_default=None, metadata={"description": "Comma-separated keys; all when absent"})


class ChangeConfigurationBody(ChargePointCommandBody):
    key = fields.String(required=True, validate=validate.Length(1, 50))
    value = fields.String(required=True, validate=validate.Length(max=500))


class TriggerMessageBody(ChargePointCommandBody):
    requested_message = fields.String(required=True, validate=one_of(MessageTrigger))
    connector_id = strict_integer(1)


class ChangeAvailabilityBody(ChargePointCommandBody):
    connector_id = strict_integer(0, load_default=0, metadata={"description": "0: the whole charge point"})
    type = fields.String(required=True, validate=one_of(AvailabilityType))


class GenericCommandBody(ChargePointCommandBody):
    action = fields.String(required=True, validate=one_of(sorted(CENTRAL_SYSTEM_ACTIONS)))
    payload = fields.Dict(load_default=dict)


class CloseTransactionBody(CamelCaseSchema):
    transaction_id = strict_integer(required=True)
    final_energy = fields.Float(validate=validate.Range(0, 1_000_000), allow_nan=False, metadata={
        "description": "kWh delivered by the transaction; without it, the last energy register reading stands"})
    reason = fields.String(load_default="Administrative", validate=validate.Length(1, 32))


class UpdateFirmwareBody(ChargePointCommandBody):
    location = fields.String(required=True, validate=validate.Length(1, 512), metadata={"description": "A URI"})
    retrieve_date = Timestamp(allow_none=False, metadata={"description": "When to download; default now"})
    retries = strict_integer(0)
    retry_interval = strict_integer(0)


class GetDiagnosticsBody(ChargePointCommandBody):
    location = fields.String(required=True, validate=validate.Length(1, 512), metadata={"description": "A URI"})
    start_time = Timestamp(allow_none=False)
    stop_time = Timestamp(allow_none=False)
    retries = strict_integer(0)
    retry_interval = strict_integer(0)


class SendLocalListBody(ChargePointCommandBody):
    update_type = fields.String(validate=one_of(UpdateType), metadata={
        "description": "Full or Differential; without it, Differential where the charge point's version is known"})


class LocalListSyncBody(CamelCaseSchema):
    charge_point_id = charge_point_id_field(metadata={"description": "Without it, every connected charge point"})
    update_type = fields.String(validate=one_of(UpdateType))


class ReserveNowBody(ChargePointCommandBody):
    connector_id = strict_integer(0, required=True, metadata={"description": "0: any connector"})
    id_tag = fields.String(required=True, validate=validate.Length(1, datatypes.ID_TAG_LENGTH))
    expiry_date = Timestamp(required=True, allow_none=False)
    parent_id_tag = fields.String(validate=validate.Length(1, datatypes.ID_TAG_LENGTH))


class CancelReservationBody(ChargePointCommandBody):
    reservation_id = strict_integer(required=True)


class SetChargingProfileBody(ChargePointCommandBody):
    connector_id = strict_integer(0, required=True, metadata={"description": "0: the whole charge point"})
    cs_charging_profiles = fields.Nested(ChargingProfileBody, required=True)


class ClearChargingProfileBody(ChargePointCommandBody):
    id = strict_integer(metadata={"description": "The chargingProfileId; or the criteria below"})
    connector_id = strict_integer(0)
    charging_profile_purpose = fields.String(validate=one_of(ChargingProfilePurposeType))
    stack_level = strict_integer(0)


class GetCompositeScheduleBody(ChargePointCommandBody):
    connector_id = strict_integer(0, required=True)
    duration = strict_integer(1, required=True, metadata={"description": "Seconds"})
    charging_rate_unit = fields.String(validate=one_of(ChargingRateUnitType))


class ChangePasswordBody(ChargePointCommandBody):
    password = fields.String(required=True, load_only=True, validate=[validate.Length(16, 40), printable_ascii],
                             metadata={"description": "The new AuthorizationKey, 16 to 40 characters; stored hashed "
                                                      "once the charge point accepts it"})


class DataTransferBody(ChargePointCommandBody):
    vendor_id = fields.String(required=True, validate=validate.Length(1, 255))
    message_id = fields.String(validate=validate.Length(1, 50))
    data = fields.String(validate=validate.Length(max=65536))


Pem = fields.String(required=True, validate=validate.Length(1, 5500), metadata={"description": "PEM"})
EXTENDED_TRIGGER_MESSAGES = ["BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat",
                             "MeterValues", "SignChargePointCertificate", "StatusNotification"]


class InstallCertificateBody(ChargePointCommandBody):
    certificate_type = fields.String(required=True, validate=one_of(CertificateUse))
    certificate = fields.String(required=True, validate=validate.Length(1, 11000), metadata={
        "description": "PEM; a certificate that is not self-signed is followed by its issuer's (for its hash data)"})


class GetInstalledCertificateIdsBody(ChargePointCommandBody):
    certificate_type = fields.String(required=True, validate=one_of(CertificateUse))


class DeleteCertificateBody(ChargePointCommandBody):
    certificate_id = strict_integer(metadata={"description": "An entry of /api/charge-points/:id/certificates"})
    certificate = fields.String(validate=validate.Length(1, 11000), metadata={
        "description": "PEM (followed by its issuer's unless self-signed): its hash data is computed"})
    certificate_hash_data = fields.Nested(CertificateHashDataSchema)

    @validates_schema
    def one_way(self, data, **_):
        given = [name for name in ("certificate_id", "certificate", "certificate_hash_data") if name in data]
        if len(given) != 1:
            raise ValidationError("Give one of certificateId, certificate and certificateHashData.", "certificateId")


class GetLogBody(ChargePointCommandBody):
    log_type = fields.String(required=True, validate=one_of(Log))
    remote_location = fields.String(required=True, validate=validate.Length(1, 512), metadata={"description": "A URL"})
    oldest_timestamp = Timestamp(allow_none=False)
    latest_timestamp = Timestamp(allow_none=False)
    retries = strict_integer(0)
    retry_interval = strict_integer(0)


class SignedUpdateFirmwareBody(ChargePointCommandBody):
    location = fields.String(required=True, validate=validate.Length(1, 512), metadata={"description": "A URL"})
    retrieve_date_time = Timestamp(allow_none=False, metadata={"description": "When to download; default now"})
    install_date_time = Timestamp(allow_none=False)
    signing_certificate = Pem
    signature = fields.String(required=True, validate=validate.Length(1, 800), metadata={"description": "Base64"})
    retries = strict_integer(0)
    retry_interval = strict_integer(0)


class ExtendedTriggerMessageBody(ChargePointCommandBody):
    requested_message = fields.String(required=True, validate=validate.OneOf(EXTENDED_TRIGGER_MESSAGES))
    connector_id = strict_integer(1)


class CertificateSignedBody(ChargePointCommandBody):
    certificate_chain = fields.String(required=True, validate=validate.Length(1, 10000), metadata={"description": "PEM"})
    csr_id = strict_integer(metadata={"description": "The stored CSR it answers (takes the charge point's answer)"})


class ReservationQuery(PageQuery):
    charge_point_id = charge_point_id_field()
    status = fields.String(validate=validate.Length(1, 16))


class ChargingProfileQuery(ReservationQuery):
    pass
