"""What a reservation means when a transaction starts (OCPP 1.6, 5.13): which reservation holds a
connector, and the one a transaction uses. Sending ReserveNow / CancelReservation is services.reservations."""
from datetime import datetime

from ocpp.v16.enums import ReservationStatus
from sqlalchemy import or_, select, update

from app.extensions import db
from app.models import Reservation
from app.services import system_log
from app.timeutil import utcnow

REQUESTED, CANCELLED, EXPIRED, USED, FAILED = "Requested", "Cancelled", "Expired", "Used", "Failed"
ACTIVE = (REQUESTED, ReservationStatus.accepted.value)


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

