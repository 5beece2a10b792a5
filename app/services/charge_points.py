"""Charge points: their registration (BootNotification), liveness (Heartbeat) and connection record."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from ocpp.v16.enums import RegistrationStatus
from sqlalchemy import String, Text, and_, bindparam, func, insert, or_, select, update

from app import events
from app.database import ReadTogether, prepared
from app.extensions import db
from app.group_commit import commit_together
from app.models import ChargePoint, SystemLog, Transaction, UTCDateTime
from app.spec import datatypes
from app.services import connectors, lookups, security, system_log
from app.services.connections import connections
from app.services.errors import Conflict

# The close reason of a connection that stopped answering (at most 123 bytes: it goes in the close frame).
HEARTBEAT_TIMEOUT = "heartbeat timeout: nothing received, not even a pong; marked offline"


def id_problem(charge_point_id: str) -> str | None:
    """Why this id cannot name a charge point, or None when it can (the rule: datatypes)."""
    return datatypes.charge_point_id_problem(charge_point_id)


@dataclass(frozen=True)
class BootInfo:
    """What a charge point says of itself in BootNotification."""
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


def get(charge_point_id: str) -> ChargePoint | None:
    return db.session.get(ChargePoint, charge_point_id)


def record_connected(charge_point_id: str, at: datetime, remote_address: str | None) -> None:
    """Create the charge point on its first connection; note when this connection began. Committed with
    other charge points' messages (app/group_commit.py) before the handshake is answered."""
    commit_together(*connected_operations(charge_point_id, at, remote_address))
    events.publish(events.CONNECTION, charge_point_id=charge_point_id, connected=True)


def connected_operations(charge_point_id: str, at: datetime, remote_address: str | None) -> list:
    """The writes of a new connection, as (statement, parameters) for the group commit."""
    return [(_insert_if_new(), {"id": charge_point_id, "created_at": at, "updated_at": at}),
            (_CONNECTED, {"charge_point_id": charge_point_id, "at": at}),
            (system_log.INSERT, system_log.entry(system_log.INFO, "connected", "connected from "
                                                 f"{remote_address or 'an unknown address'}",
                                                 charge_point_id=charge_point_id, at=at))]


def record_disconnected(charge_point_id: str, connected_at: datetime, at: datetime, reason: str) -> None:
    """Note the end of the connection that began at connected_at, and log it.

    A newer connection of the same charge point (in this process or another) has changed
    connected_at, and then this one's end changes nothing and is not logged.
    """
    event, level = ("heartbeat_timeout", system_log.WARNING) if reason == HEARTBEAT_TIMEOUT \
        else ("disconnected", system_log.INFO)
    commit_together((_DISCONNECTED, {"charge_point_id": charge_point_id, "began": connected_at, "at": at}),
                    (_LOG_IF_DISCONNECTED, {"charge_point_id": charge_point_id, "at": at, "level": level,
                                            "event": event, "message": f"disconnected: {reason}"}))
    system_log.to_process_log(level, event, f"disconnected: {reason}", charge_point_id)
    events.publish(events.CONNECTION, charge_point_id=charge_point_id, connected=False)


@prepared
def _insert_if_new(dialect):
    return dialect.insert(ChargePoint.__table__).on_conflict_do_nothing(index_elements=["id"])


_charge_points = ChargePoint.__table__
_SEEN = update(_charge_points).where(_charge_points.c.id == bindparam("charge_point_id")) \
    .values(last_seen=bindparam("at"))
_HEARTBEAT = update(_charge_points).where(_charge_points.c.id == bindparam("charge_point_id")) \
    .values(last_heartbeat=bindparam("at"), last_seen=bindparam("at"))


_CONNECTED = update(_charge_points).where(_charge_points.c.id == bindparam("charge_point_id")) \
    .values(connected_at=bindparam("at"), last_seen=bindparam("at"), updated_at=bindparam("at"))
_DISCONNECTED = update(_charge_points).where(
    _charge_points.c.id == bindparam("charge_point_id"), _charge_points.c.connected_at == bindparam("began"),
    or_(_charge_points.c.disconnected_at.is_(None), _charge_points.c.disconnected_at < _charge_points.c.connected_at)
).values(disconnected_at=bindparam("at"), updated_at=bindparam("at"))
# The disconnection's log row, only where _DISCONNECTED (earlier in the same transaction) changed the row.
_LOG_IF_DISCONNECTED = insert(SystemLog.__table__).from_select(
    ["timestamp", "level", "event", "message", "charge_point_id"],
    select(bindparam("at", type_=UTCDateTime()), bindparam("level", type_=String()), bindparam("event", type_=String()),
           bindparam("message", type_=Text()), _charge_points.c.id)
    .where(_charge_points.c.id == bindparam("charge_point_id"), _charge_points.c.disconnected_at == bindparam("at")))
_BOOTED = update(_charge_points).where(_charge_points.c.id == bindparam("charge_point_id")).values(
    **{field: bindparam(f"boot_{field}") for field in BootInfo.__dataclass_fields__},
    registration_status=func.coalesce(_charge_points.c.registration_status, bindparam("first_status")),
    heartbeat_interval=bindparam("interval"), last_boot_notification=bindparam("at"), last_seen=bindparam("at"),
    updated_at=bindparam("at"))
# A storm's BootNotifications arrive together: read together.
_REGISTRATIONS = ReadTogether(select(_charge_points.c.id.label("key"), _charge_points.c.registration_status)
                              .where(_charge_points.c.id.in_(bindparam("keys", expanding=True))))
# A storm's handshakes (HANDSHAKE_TURNS of them at a time) read together.
_HANDSHAKE_VIEWS = ReadTogether(select(_charge_points.c.id.label("key"), _charge_points.c.id,
                                       _charge_points.c.registration_status, _charge_points.c.validation_mode,
                                       _charge_points.c.security_profile, _charge_points.c.password_hash,
                                       _charge_points.c.previous_password_hash)
                                .where(_charge_points.c.id.in_(bindparam("keys", expanding=True))))


# Asked for every handshake refused in a storm, thousands at about the same time: read together.
_OPEN_TRANSACTIONS = ReadTogether(select(Transaction.__table__.c.charge_point_id.label("key")).where(
    Transaction.__table__.c.charge_point_id.in_(bindparam("keys", expanding=True)),
    Transaction.__table__.c.stop_timestamp.is_(None)).distinct())


def has_open_transaction(charge_point_id: str) -> bool:
    return bool(_OPEN_TRANSACTIONS.rows(charge_point_id))


def known_at_handshake(charge_point_id: str):
    """What the handshake needs to know of a charge point (a plain row with the attributes of a
    ChargePoint that security and may_send_calls read), or None."""
    rows = _HANDSHAKE_VIEWS.rows(charge_point_id)
    return rows[0] if rows else None


def record_seen(charge_point_id: str, at: datetime) -> None:
    commit_together((_SEEN, {"charge_point_id": charge_point_id, "at": at}))


@dataclass(frozen=True)
class Registration:
    """What BootNotification answers."""
    status: str
    heartbeat_interval: int


def register_boot(charge_point_id: str, boot: BootInfo, at: datetime) -> Registration:
    """Store what the charge point says it is, with the server's heartbeat interval; committed with other
    charge points' messages before it returns.

    A charge point keeps the registration status an operator gave it; one booting for the first time
    gets Accepted, or Pending with OCPP_UNKNOWN_CHARGE_POINTS=pending.
    """
    registered = _REGISTRATIONS.rows(charge_point_id)
    status = (registered and registered[0].registration_status) or first_registration_status()
    interval = current_app.config["OCPP_HEARTBEAT_INTERVAL"]
    commit_together(
        (_BOOTED, {"charge_point_id": charge_point_id, "first_status": first_registration_status(),
                   "interval": interval, "at": at, **{f"boot_{field}": value for field, value in vars(boot).items()}}),
        (system_log.INSERT, system_log.entry(system_log.INFO, "boot", f"BootNotification from {boot.vendor} "
                                             f"{boot.model} (firmware {boot.firmware_version or 'unknown'}): {status}",
                                             charge_point_id=charge_point_id, at=at)))
    return Registration(status, interval)


def record_heartbeat(charge_point_id: str, at: datetime) -> None:
    commit_together((_HEARTBEAT, {"charge_point_id": charge_point_id, "at": at}))


def first_registration_status() -> RegistrationStatus:
    if current_app.config["OCPP_UNKNOWN_CHARGE_POINTS"] == "pending":
        return RegistrationStatus.pending
    return RegistrationStatus.accepted


def may_send_calls(charge_point: ChargePoint | None) -> bool:
    """Whether the charge point may send CALLs other than BootNotification (it is Accepted, or has not
    booted yet where unknown charge points are accepted)."""
    status = charge_point.registration_status if charge_point is not None else None
    return registration_accepted(status or first_registration_status())


def registration_accepted(registration_status: str) -> bool:
    """The one rule: a charge point may send CALLs other than BootNotification once its registration
    (the status its BootNotification was answered) is Accepted."""
    return registration_status == RegistrationStatus.accepted


def validation_mode(charge_point: ChargePoint) -> str:
    """strict or lenient: the charge point's own setting, else the server's."""
    return charge_point.validation_mode or current_app.config["OCPP_VALIDATION"]


def require(charge_point_id: str) -> ChargePoint:
    """The charge point; raises NotFound."""
    return lookups.charge_point(charge_point_id)


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(ChargePoint))


def describe(charge_point: ChargePoint, is_connected: bool, station_status: str | None) -> dict:
    return {**charge_point.as_dict(), "is_connected": is_connected, "status": station_status,
            "has_password": charge_point.password_hash is not None}


def listing(limit: int, offset: int) -> list[dict]:
    """Charge points by id, each with whether it is connected now and its connector 0 status."""
    charge_points = db.session.scalars(select(ChargePoint).order_by(ChargePoint.id).limit(limit).offset(offset)).all()
    ids = [charge_point.id for charge_point in charge_points]
    statuses, connected = connectors.station_statuses(ids), connections().connected_among(ids)
    return [describe(charge_point, charge_point.id in connected, statuses.get(charge_point.id))
            for charge_point in charge_points]


def details(charge_point_id: str) -> dict:
    """One charge point with its connectors; raises NotFound."""
    charge_point = require(charge_point_id)
    connector_states = connectors.states(charge_point_id)
    station_status = next((c["status"] for c in connector_states if c["connector_id"] == 0), None)
    return {**describe(charge_point, connections().is_connected(charge_point_id), station_status),
            "connectors": connector_states}


@dataclass(frozen=True)
class Silence:
    """A charge point recorded as connected that has not been heard from for too long."""
    charge_point_id: str
    connected_at: datetime
    silent_seconds: float
    heartbeat_interval: int | None


def _recorded_connected():
    return and_(_charge_points.c.connected_at.is_not(None),
                or_(_charge_points.c.disconnected_at.is_(None),
                    _charge_points.c.disconnected_at < _charge_points.c.connected_at))


def silent_cutoff(now: datetime, grace: float, default_interval: int) -> datetime | None:
    """Before this moment, a charge point recorded as connected may be silent for too long (grace x the
    shortest heartbeat interval); None when none is recorded as connected."""
    shortest = db.session.scalar(select(func.min(func.coalesce(_charge_points.c.heartbeat_interval,
                                                                default_interval))).where(_recorded_connected()))
    return None if shortest is None else now - timedelta(seconds=grace * shortest)


def silent_batch(now: datetime, cutoff: datetime, grace: float, default_interval: int, after_id: str,
                 limit: int) -> tuple[list[Silence], str | None]:
    """The next `limit` candidates after `after_id` (by id) whose last_seen is before `cutoff`, and those
    of them silent for more than grace x their own heartbeat interval; the id to continue after (None
    at the end). Plain rows, no ORM objects: a job may walk tens of thousands."""
    c = _charge_points.c
    heard = func.coalesce(c.last_seen, c.connected_at)
    rows = db.session.execute(select(c.id, c.connected_at, heard, c.heartbeat_interval)
                              .where(_recorded_connected(), heard < cutoff, c.id > after_id)
                              .order_by(c.id).limit(limit)).all()
    silences = []
    for charge_point_id, connected_at, heard_at, interval in rows:
        seconds = (now - heard_at).total_seconds()
        if seconds > grace * (interval or default_interval):
            silences.append(Silence(charge_point_id, connected_at, seconds, interval))
    return silences, (rows[-1][0] if len(rows) == limit else None)


def mark_offline(silences: list[Silence], now: datetime, not_heard_since: datetime | None = None,
                 describe=None) -> list[str]:
    """Record the connections of the silent charge points as ended, in one UPDATE, with a WARNING each in
    one INSERT, and commit; the ids marked.

    Only rows still recorded as the same connection change (a charge point that reconnected meanwhile
    has a newer connected_at), and, with not_heard_since, only those not heard from since then."""
    if not silences:
        return []
    c = _charge_points.c
    condition = and_(c.id.in_([silence.charge_point_id for silence in silences]), _recorded_connected())
    if not_heard_since is not None:
        condition = and_(condition, func.coalesce(c.last_seen, c.connected_at) < not_heard_since)
    marked = set(db.session.scalars(update(_charge_points).where(condition)
                                    .values(disconnected_at=now, updated_at=now).returning(c.id)))
    system_log.store_many([system_log.entry(system_log.WARNING, "heartbeat_timeout", describe(silence),
                                            charge_point_id=silence.charge_point_id, at=now)
                           for silence in silences if silence.charge_point_id in marked])
    db.session.commit()
    return [silence.charge_point_id for silence in silences if silence.charge_point_id in marked]


def register(charge_point_id: str, registration_status: str, security_profile: int | None = None,
             validation_mode: str | None = None, password: str | None = None) -> dict:
    """Register a charge point before it connects; raises Conflict when the id is taken."""
    if get(charge_point_id) is not None:
        raise Conflict(f"charge point {charge_point_id} exists", {"chargePointId": charge_point_id})
    charge_point = ChargePoint(id=charge_point_id, registration_status=registration_status,
                               security_profile=security_profile, validation_mode=validation_mode)
    security.set_password(charge_point, password)
    db.session.add(charge_point)
    db.session.commit()
    system_log.info("charge_point_registered", f"registered: {registration_status}, security profile "
                    f"{security_profile if security_profile is not None else 'default'}", charge_point_id=charge_point_id)
    return details(charge_point_id)


def change(charge_point_id: str, **changes) -> dict:
    """Change registration status, security profile or validation mode (None: the server's default).

    They take effect at the charge point's next connection (or, for the registration status, its next
    BootNotification)."""
    charge_point = require(charge_point_id)
    for field, value in changes.items():
        setattr(charge_point, field, value)
    db.session.commit()
    system_log.info("charge_point_updated", "updated: " + ", ".join(f"{k} {v}" for k, v in changes.items()),
                    charge_point_id=charge_point_id)
    return details(charge_point_id)


def change_password(charge_point_id: str, password: str | None) -> None:
    """Set (None: remove) the password a charge point authenticates with (security profiles 1 and 2)."""
    charge_point = require(charge_point_id)
    security.set_password(charge_point, password)
    db.session.commit()
    system_log.info("charge_point_password", "password " + ("set" if password else "removed"),
                    charge_point_id=charge_point_id)


def delete(charge_point_id: str, force: bool = False) -> None:
    """Forget a charge point and close its connection; with transactions, only with force (they go too)."""
    charge_point = require(charge_point_id)
    transactions = db.session.scalar(select(func.count()).select_from(Transaction)
                                     .where(Transaction.charge_point_id == charge_point_id))
    if transactions and not force:
        raise Conflict(f"charge point {charge_point_id} has {transactions} transactions; delete with force=true "
                       "to delete them too", {"transactions": transactions})
    db.session.delete(charge_point)
    db.session.commit()
    security.forget(charge_point_id)
    connections().disconnect(charge_point_id, "charge point deleted")
    system_log.warning("charge_point_deleted", f"deleted with {transactions} transactions",
                       charge_point_id=charge_point_id)
