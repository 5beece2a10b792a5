"""Marshmallow schemas of the REST API: what comes in (validated) and what goes out (camelCase JSON).

Attributes are snake_case and become camelCase on the wire. Times go out as ISO 8601 UTC with Z.
Energy is in kWh where the API speaks of energy (energyDelivered, finalEnergy), in Wh where OCPP does
(meterStart, meterStop).
"""
from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates_schema
from ocpp.v16.enums import AuthorizationStatus, AvailabilityType, MessageTrigger, RegistrationStatus, ResetType

from app.ocpp.schemas import CENTRAL_SYSTEM_ACTIONS
from app.services.system_log import LEVELS
from app.timeutil import isoformat, parse_timestamp

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


# OCPP's integers (transactionId, connectorId ...) are 32-bit; so are the columns that keep them.
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1


def strict_integer(minimum: int = INT32_MIN, **kwargs) -> fields.Integer:
    """An integer given as a JSON number (not "1"), within 32 bits."""
    return fields.Integer(strict=True, validate=validate.Range(minimum, INT32_MAX), **kwargs)


PRINTABLE_ASCII = r"^[\x20-\x7E]*$"
ChargePointId = fields.String(required=True, validate=[validate.Length(1, 48), validate.Regexp(PRINTABLE_ASCII)])
IdTagValue = fields.String(validate=validate.Length(1, 20))


# --- responses ---

class DatabaseStatusSchema(CamelCaseSchema):
    type = fields.String(metadata={"description": "sqlite or postgres"})
    connected = fields.Boolean(metadata={"description": "Whether the database answered just now"})


class StatusSchema(CamelCaseSchema):
    status = fields.String(metadata={"description": "running"})
    server_time = Timestamp()
    system_name = fields.String()
    version = fields.String()
    uptime_seconds = fields.Integer()
    charge_points_total = fields.Integer(allow_none=True, metadata={"description": "null when the database is down"})
    charge_points_connected = fields.Integer()
    active_transactions = fields.Integer(allow_none=True, metadata={"description": "null when the database is down"})
    database = fields.Nested(DatabaseStatusSchema)


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
    charge_point_id = fields.String(validate=validate.Length(1, 48))
    is_complete = fields.Boolean()
    transaction_id = fields.Integer(validate=validate.Range(INT32_MIN, INT32_MAX))
    limit = fields.Integer(load_default=MAX_PAGE, validate=validate.Range(1, MAX_PAGE))


class LogQuery(PageQuery):
    charge_point_id = fields.String(validate=validate.Length(1, 48))
    level = fields.String(validate=validate.OneOf(LEVELS))


class IdTagQuery(CamelCaseSchema):
    id_tag = IdTagValue


class RequiredIdTagQuery(CamelCaseSchema):
    id_tag = fields.String(required=True, validate=validate.Length(1, 20))


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
    id = fields.String(required=True, validate=[validate.Length(1, 48), printable_ascii])
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
    id_tag = fields.String(required=True, validate=validate.Length(1, 20))
    status = fields.String(load_default=AuthorizationStatus.accepted.value, validate=one_of(STORABLE_ID_TAG_STATUSES))
    expiry_date = Timestamp(allow_none=True, load_default=None)
    parent_id_tag = fields.String(allow_none=True, load_default=None, validate=validate.Length(1, 20))


class ChargePointCommandBody(CamelCaseSchema):
    charge_point_id = ChargePointId


class RemoteStartBody(ChargePointCommandBody):
    id_tag = fields.String(required=True, validate=validate.Length(1, 20))
    connector_id = strict_integer(1)
    charging_profile = fields.Dict(metadata={"description": "An OCPP 1.6 csChargingProfiles (TxProfile)"})


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
