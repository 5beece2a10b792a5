"""The persisted state of the central system, in the spec's terms.

Times are stored as naive UTC (SQLite has no time zones) and come back as aware UTC datetimes:
UTCDateTime is the one place that converts.
"""
from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text,
                        TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.spec import datatypes
from app.timeutil import utcnow

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
ChargePointIdType = String(datatypes.CHARGE_POINT_ID_LENGTH)  # CiString48
IdTagType = String(datatypes.ID_TAG_LENGTH)  # IdToken, CiString20


def charge_point_reference(**kwargs):
    """The column naming the charge point a row belongs to; the row goes with the charge point."""
    return mapped_column(ChargePointIdType, ForeignKey("charge_points.id", ondelete="CASCADE"), **kwargs)


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the server only stores aware UTC times")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ChargePoint(Timestamped, db.Model):
    """A charge point, known from its first connection; BootNotification fills in what it is."""
    __tablename__ = "charge_points"

    id: Mapped[str] = mapped_column(ChargePointIdType, primary_key=True)
    vendor: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(20))
    serial_number: Mapped[str | None] = mapped_column(String(25))
    charge_box_serial_number: Mapped[str | None] = mapped_column(String(25))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    iccid: Mapped[str | None] = mapped_column(String(20))
    imsi: Mapped[str | None] = mapped_column(String(20))
    meter_type: Mapped[str | None] = mapped_column(String(25))
    meter_serial_number: Mapped[str | None] = mapped_column(String(25))
    # Accepted / Pending / Rejected as last answered to its BootNotification; None before the first.
    registration_status: Mapped[str | None] = mapped_column(String(16))
    heartbeat_interval: Mapped[int | None] = mapped_column(Integer)
    last_boot_notification: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # strict / lenient, overriding OCPP_VALIDATION for this charge point; None follows the server.
    validation_mode: Mapped[str | None] = mapped_column(String(8))
    firmware_status: Mapped[str | None] = mapped_column(String(32))
    firmware_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    diagnostics_status: Mapped[str | None] = mapped_column(String(32))
    diagnostics_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    log_status: Mapped[str | None] = mapped_column(String(32))
    log_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # OCPP security profile (0-3) of this charge point; None follows OCPP_SECURITY_PROFILE.
    security_profile: Mapped[int | None] = mapped_column(Integer)
    # The AuthorizationKey (profiles 1 and 2) as a salted scrypt hash; never the key itself.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The AuthorizationKey before a change the charge point accepted (ChangeConfiguration): accepted too
    # until the charge point has once authenticated with the new one, then discarded.
    previous_password_hash: Mapped[str | None] = mapped_column(String(255))
    # The version of the local authorization list the charge point holds, as far as we know (None: we
    # never sent one, or it reported another: the next sync is Full).
    local_list_version: Mapped[int | None] = mapped_column(Integer)


class Connector(db.Model):
    """The last status a charge point reported for one connector; connector 0 is the charge point."""
    __tablename__ = "connectors"

    charge_point_id: Mapped[str] = charge_point_reference(primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str] = mapped_column(String(32))
    info: Mapped[str | None] = mapped_column(String(50))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(50))
    # When the charge point says the status began (its timestamp), and when we learnt it.
    status_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConnectorStatusChange(db.Model):
    """Every StatusNotification received: the history behind Connector."""
    __tablename__ = "connector_status_changes"
    __table_args__ = (
        UniqueConstraint("charge_point_id", "connector_id", "timestamp", "status", "error_code",
                         name="uq_connector_status_change"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    connector_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str] = mapped_column(String(32))
    info: Mapped[str | None] = mapped_column(String(50))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(50))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdTag(Timestamped, db.Model):
    """An identifier (RFID card, token) that Authorize and StartTransaction check."""
    __tablename__ = "id_tags"

    id_tag: Mapped[str] = mapped_column(IdTagType, primary_key=True)
    # Accepted, Blocked, Expired or Invalid (ConcurrentTx is computed, never stored).
    status: Mapped[str] = mapped_column(String(16), default="Accepted")
    expiry_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parent_id_tag: Mapped[str | None] = mapped_column(IdTagType)


class Transaction(Timestamped, db.Model):
    """A charging session; its id is the transactionId given to the charge point."""
    __tablename__ = "transactions"
    __table_args__ = (
        # A StartTransaction retried by a charge point that missed our answer: same connector, same
        # start time. The constraint turns the retry into the transaction already recorded.
        UniqueConstraint("charge_point_id", "connector_id", "start_timestamp", name="uq_transaction_start"),
        Index("ix_transactions_charge_point_running", "charge_point_id", "stop_timestamp"),
        Index("ix_transactions_id_tag_running", "id_tag", "stop_timestamp"),
        Index("ix_transactions_start_timestamp", "start_timestamp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(IdTagType)
    # What the central system answered for the idTag in StartTransaction.conf.
    id_tag_status: Mapped[str] = mapped_column(String(16))
    start_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    meter_start: Mapped[int] = mapped_column(BigInteger)
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    stop_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meter_stop: Mapped[int | None] = mapped_column(BigInteger)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    stop_id_tag: Mapped[str | None] = mapped_column(IdTagType)
    # ChargePoint when its StopTransaction arrived; CentralSystem when the server closed it (an
    # administrator, the offline monitor, a newer transaction on the connector). A StopTransaction
    # arriving later corrects a transaction the central system closed.
    stopped_by: Mapped[str | None] = mapped_column(String(16))
    # When the offline monitor found it running while its charge point was offline.
    offline_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_complete(self) -> bool:
        return self.stop_timestamp is not None


class MeterValue(db.Model):
    """One sampled value, as the charge point reported it (values are strings in OCPP)."""
    __tablename__ = "meter_values"
    __table_args__ = (
        # The natural key of a reading: a retried MeterValues or StopTransaction adds nothing twice.
        UniqueConstraint("charge_point_id", "connector_id", "timestamp", "measurand", "phase",
                         "location", "context", name="uq_meter_value_sample"),
        Index("ix_meter_values_transaction", "transaction_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    connector_id: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("transactions.id", ondelete="SET NULL"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[str] = mapped_column(Text)
    # The spec's defaults are stored, not implied: Sample.Periodic, Raw, Energy.Active.Import.Register,
    # Outlet, Wh. phase is '' when the sample has none, so that the natural key stays unique (SQL
    # never finds two NULLs equal).
    context: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(16))
    measurand: Mapped[str] = mapped_column(String(40))
    phase: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(String(8))
    unit: Mapped[str] = mapped_column(String(16))


class DataTransferMessage(db.Model):
    """A DataTransfer, either way: one a charge point sent, with the status we answered, or one the
    central system sent, with the charge point's answer."""
    __tablename__ = "data_transfer_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference(index=True)
    # Who sent the DataTransfer.req: ChargePoint or CentralSystem.
    initiated_by: Mapped[str] = mapped_column(String(16), server_default="ChargePoint")
    vendor_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(50))
    data: Mapped[str | None] = mapped_column(Text)
    # The answer's status (Failed: the charge point did not answer, or answered with a CALLERROR).
    status: Mapped[str] = mapped_column(String(16))
    # The data of the answer (DataTransfer.conf), where it had any.
    response_data: Mapped[str | None] = mapped_column(Text)
    # When the request was received, or sent.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FileTransferStatusChange(db.Model):
    """A FirmwareStatusNotification or SignedFirmwareStatusNotification (kind firmware), a
    DiagnosticsStatusNotification (kind diagnostics) or a LogStatusNotification (kind log)."""
    __tablename__ = "file_transfer_status_changes"
    __table_args__ = (Index("ix_file_transfer_status_changes_cp", "charge_point_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    # The requestId of the security extension's signed firmware update or log upload.
    request_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConfigurationKey(db.Model):
    """A configuration key of a charge point as it last reported (GetConfiguration) or accepted
    (ChangeConfiguration) it: the last known configuration, without asking again."""
    __tablename__ = "configuration_keys"

    charge_point_id: Mapped[str] = charge_point_reference(primary_key=True)
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(500))
    readonly: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalListEntry(db.Model):
    """An entry of the local authorization list as the charge point holds it (as last accepted): what a
    differential SendLocalList is computed against."""
    __tablename__ = "local_list_entries"

    charge_point_id: Mapped[str] = charge_point_reference(primary_key=True)
    id_tag: Mapped[str] = mapped_column(IdTagType, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    expiry_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parent_id_tag: Mapped[str | None] = mapped_column(IdTagType)


class Reservation(Timestamped, db.Model):
    """A ReserveNow; its id is the reservationId sent to the charge point."""
    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_active", "charge_point_id", "connector_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(IdTagType)
    parent_id_tag: Mapped[str | None] = mapped_column(IdTagType)
    expiry_date: Mapped[datetime] = mapped_column(UTCDateTime)
    # Requested (sent, no answer yet), Accepted (active), Faulted/Occupied/Rejected/Unavailable (refused
    # by the charge point), Cancelled, Expired, Used (a transaction started with it).
    status: Mapped[str] = mapped_column(String(16))
    transaction_id: Mapped[int | None] = mapped_column(Integer)


class ChargingProfile(Timestamped, db.Model):
    """A charging profile sent with SetChargingProfile; its id is the chargingProfileId."""
    __tablename__ = "charging_profiles"
    __table_args__ = (Index("ix_charging_profiles_cp", "charge_point_id", "connector_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    # None: a RemoteStartTransaction without connectorId (the charge point picks the connector).
    connector_id: Mapped[int | None] = mapped_column(Integer)
    stack_level: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    recurrency_kind: Mapped[str | None] = mapped_column(String(16))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    # chargingSchedule as sent (duration, startSchedule, chargingRateUnit A or W, periods, minChargingRate).
    schedule: Mapped[dict] = mapped_column(JSON)
    # Requested, Accepted, Rejected, NotSupported (the charge point's answer), Cleared.
    status: Mapped[str] = mapped_column(String(16))


class FileTransferRequest(db.Model):
    """An UpdateFirmware or GetDiagnostics sent, with what the charge point answered."""
    __tablename__ = "file_transfer_requests"
    __table_args__ = (Index("ix_file_transfer_requests_cp", "charge_point_id", "requested_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    # firmware (UpdateFirmware, SignedUpdateFirmware), diagnostics (GetDiagnostics) or log (GetLog); the id
    # of a SignedUpdateFirmware or GetLog is its requestId.
    kind: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(Text)
    retrieve_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retries: Mapped[int | None] = mapped_column(Integer)
    retry_interval: Mapped[int | None] = mapped_column(Integer)
    file_name: Mapped[str | None] = mapped_column(String(255))
    # Requested, then the answer's status (Accepted where the answer has none), or Failed (no valid answer)
    status: Mapped[str] = mapped_column(String(20), server_default="Accepted")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecurityEvent(db.Model):
    """A SecurityEventNotification from a charge point (OCPP 1.6 Security Whitepaper)."""
    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_cp", "charge_point_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    type: Mapped[str] = mapped_column(String(50))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    tech_info: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificateSigningRequest(db.Model):
    """A SignCertificate from a charge point: a CSR signed by the built-in CA where one is configured,
    else awaiting an operator's CA (sent back with CertificateSigned)."""
    __tablename__ = "certificate_signing_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference(index=True)
    csr: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Stored (for an external CA), Refused (the CSR failed its checks), Issued (signed by the built-in
    # CA), then the charge point's answer to CertificateSigned (Accepted, Rejected) or Failed (none).
    status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255))  # why it was refused or failed
    certificate: Mapped[str | None] = mapped_column(Text)    # the certificate issued (PEM)


class InstalledCertificate(Timestamped, db.Model):
    """A certificate installed on a charge point (InstallCertificate accepted, or reported by
    GetInstalledCertificateIds), known by its certificateHashData."""
    __tablename__ = "installed_certificates"
    __table_args__ = (UniqueConstraint("charge_point_id", "hash_algorithm", "issuer_name_hash", "issuer_key_hash",
                                       "serial_number", name="uq_installed_certificate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_point_id: Mapped[str] = charge_point_reference()
    # CentralSystemRootCertificate or ManufacturerRootCertificate.
    certificate_type: Mapped[str] = mapped_column(String(32))
    hash_algorithm: Mapped[str] = mapped_column(String(8))
    issuer_name_hash: Mapped[str] = mapped_column(String(128))
    issuer_key_hash: Mapped[str] = mapped_column(String(128))
    serial_number: Mapped[str] = mapped_column(String(40))
    # The PEM, where the central system installed it; None where only its hash data was reported.
    certificate: Mapped[str | None] = mapped_column(Text)


class ApiKey(db.Model):
    """A key for the HTTP API, made by `flask api-key create`; only its SHA-256 is stored."""
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the key: API keys are long random tokens, for which a fast hash is enough (and each
    # request can afford it); passwords chosen by people get scrypt instead.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(db.Model):
    """An operator console account; its password is kept as a salted scrypt hash (werkzeug)."""
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # admin: everything; operator: commands, idTags, reservations, closing transactions; viewer: read only.
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServerSecret(db.Model):
    """A secret the server made for itself and every process shares (the console's session signing key
    where SECRET_KEY is not set)."""
    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class SystemLog(db.Model):
    """A significant event (connection, boot, rejected frame, command, job, error) for /api/logs."""
    __tablename__ = "system_logs"
    __table_args__ = (
        Index("ix_system_logs_timestamp", "timestamp"),
        Index("ix_system_logs_charge_point", "charge_point_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(8))
    # No foreign key: the log outlives the charge points it mentions.
    charge_point_id: Mapped[str | None] = mapped_column(ChargePointIdType)
    event: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)


__all__ = ["ChargePoint", "Connector", "ConnectorStatusChange", "IdTag", "Transaction", "MeterValue",
           "DataTransferMessage", "FileTransferStatusChange", "ConfigurationKey", "LocalListEntry", "Reservation",
           "ChargingProfile", "FileTransferRequest", "SecurityEvent", "CertificateSigningRequest", "InstalledCertificate",
           "ApiKey", "User", "ServerSecret", "SystemLog", "UTCDateTime"]
