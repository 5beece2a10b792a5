"""Reservations (ReserveNow, CancelReservation): stored with their expiry and status; a transaction
started with one ends it; a job marks the expired ones."""
from __future__ import annotations  # commands.CommandOutcome: commands imports charging, which imports this
from datetime import datetime

from ocpp.v16.enums import Action, CancelReservationStatus, ReservationStatus
from sqlalchemy import or_, select, update

from app.extensions import db
from app.models import Reservation
from app.ocpp.failures import CommandFailed, NotConnected
from app.services import charge_points, commands, system_log
from app.services.errors import Invalid, NotFound
from app.timeutil import isoformat, utcnow

REQUESTED, CANCELLED, EXPIRED, USED, FAILED = "Requested", "Cancelled", "Expired", "Used", "Failed"
ACTIVE = (REQUESTED, ReservationStatus.accepted.value)


def reserve(charge_point_id: str, connector_id: int, id_tag: str, expiry_date: datetime,
            parent_id_tag: str | None = None) -> commands.CommandOutcome:
    """Store the reservation (its id is the reservationId) and send ReserveNow; the reservation takes
    the status the charge point answers (Accepted, Faulted, Occupied, Rejected, Unavailable)."""
    charge_points.require(charge_point_id)
    if expiry_date <= utcnow():
        raise Invalid("expiryDate must be in the future", {"expiryDate": isoformat(expiry_date)})
    reservation = Reservation(charge_point_id=charge_point_id, connector_id=connector_id, id_tag=id_tag,
                              parent_id_tag=parent_id_tag, expiry_date=expiry_date, status=REQUESTED)
    db.session.add(reservation)
    db.session.commit()
    payload = {"connectorId": connector_id, "expiryDate": isoformat(expiry_date), "idTag": id_tag,
               "reservationId": reservation.id}
    if parent_id_tag:
        payload["parentIdTag"] = parent_id_tag
    try:
        outcome = commands.send(charge_point_id, Action.reserve_now, payload)
    except NotConnected:
        db.session.delete(db.session.get(Reservation, reservation.id))
        db.session.commit()
        raise
    except CommandFailed:
        _set_status(reservation.id, FAILED)
        raise
    _set_status(reservation.id, outcome.reply["status"])
    outcome.subject = db.session.get(Reservation, reservation.id)
    return outcome


def cancel(charge_point_id: str, reservation_id: int) -> commands.CommandOutcome:
    reservation = require(reservation_id)
    if reservation.charge_point_id != charge_point_id:
        raise NotFound(f"reservation {reservation_id} is not one of {charge_point_id}", {"reservationId": reservation_id})
    outcome = commands.send(charge_point_id, Action.cancel_reservation, {"reservationId": reservation_id})
    if outcome.reply["status"] == CancelReservationStatus.accepted:
        _set_status(reservation_id, CANCELLED)
    outcome.subject = db.session.get(Reservation, reservation_id)
    return outcome


def require(reservation_id: int) -> Reservation:
    reservation = db.session.get(Reservation, reservation_id) if -2**31 <= reservation_id < 2**31 else None
    if reservation is None:
        raise NotFound(f"reservation {reservation_id} is not known", {"reservationId": reservation_id})
    return reservation


def _set_status(reservation_id: int, status: str) -> None:
    db.session.execute(update(Reservation).where(Reservation.id == reservation_id).values(status=status,
                                                                                           updated_at=utcnow()))
    db.session.commit()


def listing(charge_point_id: str | None = None, status: str | None = None, limit: int = 1000,
            offset: int = 0) -> list[Reservation]:
    query = select(Reservation).order_by(Reservation.id.desc()).limit(limit).offset(offset)
    if charge_point_id is not None:
        query = query.where(Reservation.charge_point_id == charge_point_id)
    if status is not None:
        query = query.where(Reservation.status == status)
    return list(db.session.scalars(query))


def expire(now: datetime) -> int:
    """Mark the reservations whose expiryDate has passed; how many (safe to run twice at once)."""
    result = db.session.execute(update(Reservation).where(Reservation.status.in_(ACTIVE),
                                                          Reservation.expiry_date <= now)
                                .values(status=EXPIRED, updated_at=now))
    db.session.commit()
    return result.rowcount


def _active_on(charge_point_id: str, connector_id: int, now: datetime) -> list[Reservation]:
    """Active reservations of the connector, and of the whole charge point (connector 0)."""
    return list(db.session.scalars(select(Reservation).where(
        Reservation.charge_point_id == charge_point_id, Reservation.status.in_(ACTIVE),
        Reservation.expiry_date > now, or_(Reservation.connector_id == connector_id, Reservation.connector_id == 0))))


def _holds(reservation: Reservation, id_tag: str, parent_id_tag: str | None) -> bool:
    """Whether the reservation is for this idTag: its own, or one of its group (OCPP 1.6, 5.13)."""
    return reservation.id_tag == id_tag or (
        reservation.parent_id_tag is not None and reservation.parent_id_tag in (id_tag, parent_id_tag))


def held_by_another(charge_point_id: str, connector_id: int, id_tag: str, parent_id_tag: str | None,
                    reservation_id: int | None) -> bool:
    """Whether an active reservation for another idTag holds this connector (and the charge point did
    not start with that reservation)."""
    return any(reservation.id != reservation_id and not _holds(reservation, id_tag, parent_id_tag)
               for reservation in _active_on(charge_point_id, connector_id, utcnow()))


def use(charge_point_id: str, connector_id: int, id_tag: str, parent_id_tag: str | None,
        reservation_id: int | None, transaction_id: int) -> None:
    """End the reservation a transaction started with: by its reservationId, or the one of this idTag."""
    candidates = [reservation for reservation in _active_on(charge_point_id, connector_id, utcnow())
                  if reservation.id == reservation_id or _holds(reservation, id_tag, parent_id_tag)]
    for reservation in candidates[:1]:
        db.session.execute(update(Reservation).where(Reservation.id == reservation.id, Reservation.status.in_(ACTIVE))
                           .values(status=USED, transaction_id=transaction_id, updated_at=utcnow()))
        db.session.commit()
        system_log.info("reservation_used", f"reservation {reservation.id} used by transaction {transaction_id}",
                        charge_point_id=charge_point_id)
