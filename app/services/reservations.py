"""Reservations (ReserveNow, CancelReservation): stored with their expiry and status; a job marks the
expired ones. What a reservation means when a transaction starts is services.reservation_holds."""
from datetime import datetime

from ocpp.v16 import call
from ocpp.v16.enums import Action, CancelReservationStatus
from sqlalchemy import update

from app.extensions import db
from app.models import Reservation
from app.services import charge_points, commands, lookups
from app.services.commands import CommandOutcome
from app.services.errors import Invalid, NotFound, parsed_timestamp
from app.services.reservation_holds import ACTIVE, CANCELLED, EXPIRED
from app.spec.datatypes import isoformat
from app.timeutil import utcnow


def reserve(charge_point_id: str, connector_id: int, id_tag: str, expiry_date: datetime,
            parent_id_tag: str | None = None) -> CommandOutcome:
    """Store the reservation (its id is the reservationId) and send ReserveNow; the reservation takes
    the status the charge point answers (Accepted, Faulted, Occupied, Rejected, Unavailable)."""
    return reserve_now(charge_point_id, call.ReserveNow(connector_id=connector_id, expiry_date=isoformat(expiry_date),
                                                        id_tag=id_tag, reservation_id=0, parent_id_tag=parent_id_tag))


@commands.recorded_by(Action.reserve_now)
def reserve_now(charge_point_id: str, request: call.ReserveNow) -> CommandOutcome:
    """ReserveNow, numbered by the stored reservation (whatever reservationId the request had)."""
    charge_points.require(charge_point_id)
    expiry_date = parsed_timestamp("expiryDate", request.expiry_date)
    if expiry_date <= utcnow():
        raise Invalid("expiryDate must be in the future", {"expiryDate": isoformat(expiry_date)})
    reservation = Reservation(charge_point_id=charge_point_id, connector_id=request.connector_id,
                              id_tag=request.id_tag, parent_id_tag=request.parent_id_tag or None,
                              expiry_date=expiry_date)
    return commands.send_recorded(charge_point_id, reservation, lambda reservation_id: call.ReserveNow(
        **{**request.__dict__, "reservation_id": reservation_id, "parent_id_tag": request.parent_id_tag or None}))


def cancel(charge_point_id: str, reservation_id: int) -> CommandOutcome:
    return cancel_reservation(charge_point_id, call.CancelReservation(reservation_id=reservation_id))


@commands.recorded_by(Action.cancel_reservation)
def cancel_reservation(charge_point_id: str, request: call.CancelReservation) -> CommandOutcome:
    """CancelReservation of a stored reservation of this charge point; Cancelled where accepted."""
    reservation_id = request.reservation_id
    reservation = require(reservation_id)
    if reservation.charge_point_id != charge_point_id:
        raise NotFound(f"reservation {reservation_id} is not one of {charge_point_id}", {"reservationId": reservation_id})
    outcome = commands.send(charge_point_id, request)
    if outcome.status == CancelReservationStatus.accepted:
        _set_status(reservation_id, CANCELLED)
    outcome.subject = db.session.get(Reservation, reservation_id)
    return outcome


def require(reservation_id: int) -> Reservation:
    return lookups.require(Reservation, reservation_id, "reservation", "reservationId")


def _set_status(reservation_id: int, status: str) -> None:
    db.session.execute(update(Reservation).where(Reservation.id == reservation_id).values(status=status,
                                                                                           updated_at=utcnow()))
    db.session.commit()


def listing(charge_point_id: str | None = None, status: str | None = None, limit: int = 1000,
            offset: int = 0) -> list[Reservation]:
    return lookups.newest(Reservation, limit, offset, charge_point_id=charge_point_id, status=status)


def expire(now: datetime) -> int:
    """Mark the reservations whose expiryDate has passed; how many (safe to run twice at once)."""
    result = db.session.execute(update(Reservation).where(Reservation.status.in_(ACTIVE),
                                                          Reservation.expiry_date <= now)
                                .values(status=EXPIRED, updated_at=now))
    db.session.commit()
    return result.rowcount
