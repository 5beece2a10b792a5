"""Charge points: their registration (BootNotification), liveness (Heartbeat) and connection record."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from ocpp.v16.enums import RegistrationStatus
from sqlalchemy import and_, bindparam, func, or_, select, update

from app import events
from app.database import prepared
from app.extensions import db
from app.group_commit import commit_together
from app.models import ChargePoint, Transaction
from app.ocpp import datatypes
from app.services import connectors, lookups, security, system_log
from app.services.connections import connections
from app.services.errors import Conflict


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


def record_connected(charge_point_id: str, at: datetime, remote_address: str | None) -> ChargePoint:
    """Create the charge point on its first connection; note when this connection began."""
    db.session.execute(_insert_if_new(), {"id": charge_point_id, "created_at": at, "updated_at": at})
    db.session.execute(update(ChargePoint).where(ChargePoint.id == charge_point_id)
                       .values(connected_at=at, last_seen=at, updated_at=at))
    db.session.commit()
    system_log.info("connected", f"connected from {remote_address or 'an unknown address'}",
                    charge_point_id=charge_point_id)
    events.publish(events.CONNECTION, charge_point_id=charge_point_id, connected=True)
    return get(charge_point_id)


def record_disconnected(charge_point_id: str, connected_at: datetime, at: datetime, reason: str) -> None:
    """Note the end of the connection that began at connected_at.

    A newer connection of the same charge point (in this process or another) has changed
    connected_at, and then this one's end changes nothing.
    """
    result = db.session.execute(
        update(ChargePoint)
        .where(ChargePoint.id == charge_point_id, ChargePoint.connected_at == connected_at,
               or_(ChargePoint.disconnected_at.is_(None), ChargePoint.disconnected_at < connected_at))
        .values(disconnected_at=at, updated_at=at))
    # Committed before the event is logged: the system log swallows a failed commit (it never raises), and
    # a disconnection lost that way during an outage would not be retried (app/ocpp/websocket.py).
    db.session.commit()
    if result.rowcount:
        system_log.info("disconnected", f"disconnected: {reason}", charge_point_id=charge_point_id)
        events.publish(events.CONNECTION, charge_point_id=charge_point_id, connected=False)


@prepared
def _insert_if_new(dialect):
    return dialect.insert(ChargePoint.__table__).on_conflict_do_nothing(index_elements=["id"])


_charge_points = ChargePoint.__table__
_SEEN = update(_charge_points).where(_charge_points.c.id == bindparam("charge_point_id")) \
    .values(last_seen=bindparam("at"))
_HEARTBEAT = update(_charge_points).where(_charge_points.c.id == bindparam("charge_point_id")) \
    .values(last_heartbeat=bindparam("at"), last_seen=bindparam("at"))


def record_seen(charge_point_id: str, at: datetime) -> None:
    commit_together((_SEEN, {"charge_point_id": charge_point_id, "at": at}))


def register_boot(charge_point_id: str, boot: BootInfo, at: datetime) -> ChargePoint:
    """Store what the charge point says it is, with the server's heartbeat interval.

    A charge point keeps the registration status an operator gave it; one booting for the first time
    gets Accepted, or Pending with OCPP_UNKNOWN_CHARGE_POINTS=pending.
    """
    charge_point = get(charge_point_id)
    for field, value in vars(boot).items():
        setattr(charge_point, field, value)
    if charge_point.registration_status is None:
        charge_point.registration_status = first_registration_status()
    charge_point.heartbeat_interval = current_app.config["OCPP_HEARTBEAT_INTERVAL"]
    charge_point.last_boot_notification = at
    charge_point.last_seen = at
    db.session.commit()
    system_log.info("boot", f"BootNotification from {boot.vendor} {boot.model} "
                    f"(firmware {boot.firmware_version or 'unknown'}): {charge_point.registration_status}",
                    charge_point_id=charge_point_id)
    return charge_point


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
    return (status or first_registration_status()) == RegistrationStatus.accepted


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


def silent(now: datetime, grace: float, default_interval: int) -> list[ChargePoint]:
    """Charge points recorded as connected but silent for more than grace x their heartbeat interval.

    The database drops those heard from within grace x the shortest interval: loading every connected
    charge point would stall the process for a fifth of a second at 10,000 of them."""
    recorded_connected = and_(ChargePoint.connected_at.is_not(None),
                              or_(ChargePoint.disconnected_at.is_(None), ChargePoint.disconnected_at < ChargePoint.connected_at))
    shortest = db.session.scalar(select(func.min(func.coalesce(ChargePoint.heartbeat_interval, default_interval)))
                                 .where(recorded_connected))
    if shortest is None:
        return []
    cutoff = now - timedelta(seconds=grace * shortest)
    candidates = db.session.scalars(select(ChargePoint).where(recorded_connected, or_(
        ChargePoint.last_seen < cutoff, and_(ChargePoint.last_seen.is_(None), ChargePoint.connected_at < cutoff))))
    return [charge_point for charge_point in candidates
            if (now - (charge_point.last_seen or charge_point.connected_at)).total_seconds()
            > grace * (charge_point.heartbeat_interval or default_interval)]


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
