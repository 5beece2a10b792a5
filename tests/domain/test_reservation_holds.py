"""What a reservation means when a transaction starts (OCPP 1.6, 5.13)."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Reservation
from app.services import reservation_holds, reservations
from app.services.errors import NotFound
from app.timeutil import utcnow
from tests.domain import factories


def reserve(charge_point_id: str, connector_id: int, id_tag: str, parent: str | None = None,
            status: str = "Accepted", expires_in: float = 3600) -> int:
    reservation = Reservation(charge_point_id=charge_point_id, connector_id=connector_id, id_tag=id_tag,
                              parent_id_tag=parent, expiry_date=utcnow() + timedelta(seconds=expires_in),
                              status=status)
    db.session.add(reservation)
    db.session.commit()
    return reservation.id


@pytest.mark.parametrize("reserved_connector, status, expires_in, held", [
    (1, "Accepted", 3600, True),
    (1, "Requested", 3600, True),    # sent, not answered yet: still holds
    (0, "Accepted", 3600, True),     # connector 0 reserves the whole charge point
    (2, "Accepted", 3600, False),    # another connector
    (1, "Accepted", -1, False),      # expired
    (1, "Cancelled", 3600, False),
    (1, "Rejected", 3600, False),
])
def test_a_reservation_for_another_tag_holds_the_connector(in_app, reserved_connector, status, expires_in, held):
    charge_point_id = factories.charge_point()
    reserve(charge_point_id, reserved_connector, "HOLDER", status=status, expires_in=expires_in)
    assert reservation_holds.held_by_another(charge_point_id, 1, "SOMEONE", None, None) is held


def test_the_holder_its_group_and_its_reservation_id_are_not_held_off(in_app):
    charge_point_id = factories.charge_point()
    reservation_id = reserve(charge_point_id, 1, "HOLDER", parent="GROUP-R")
    assert not reservation_holds.held_by_another(charge_point_id, 1, "HOLDER", None, None)
    assert not reservation_holds.held_by_another(charge_point_id, 1, "MEMBER", "GROUP-R", None)
    assert not reservation_holds.held_by_another(charge_point_id, 1, "SOMEONE", None, reservation_id)


def test_a_transaction_uses_its_reservation_once(in_app):
    charge_point_id = factories.charge_point()
    reservation_id = reserve(charge_point_id, 1, "HOLDER")
    reservation_holds.use(charge_point_id, 1, "HOLDER", None, None, transaction_id=41)
    reservation_holds.use(charge_point_id, 1, "HOLDER", None, None, transaction_id=42)
    db.session.expire_all()
    used = db.session.get(Reservation, reservation_id)
    assert (used.status, used.transaction_id) == ("Used", 41)


def test_expire_marks_only_the_active_past_ones(in_app):
    charge_point_id = factories.charge_point()
    past, future, cancelled = (reserve(charge_point_id, 1, "A", expires_in=-5), reserve(charge_point_id, 2, "B"),
                               reserve(charge_point_id, 3, "C", status="Cancelled", expires_in=-5))
    assert reservations.expire(utcnow()) >= 1
    db.session.expire_all()
    assert [db.session.get(Reservation, i).status for i in (past, future, cancelled)] == \
        ["Expired", "Accepted", "Cancelled"]


def test_require_an_unknown_or_out_of_range_reservation_is_not_found(in_app):
    for reservation_id in (2**31, -2**31 - 1, 2**31 - 1):
        with pytest.raises(NotFound):
            reservations.require(reservation_id)
