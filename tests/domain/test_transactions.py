"""StartTransaction and StopTransaction as the charging service records them: idempotent where a charge
point repeats itself, a superseded transaction closed, an unknown stop recorded without inventing one."""
from datetime import timedelta

from app.extensions import db
from app.models import Transaction
from app.services import charging
from app.timeutil import utcnow
from tests.domain import factories


def test_the_same_start_twice_is_one_transaction_with_the_same_verdict(in_app):
    charge_point_id, tag = factories.charge_point(), factories.id_tag()
    at = utcnow()
    first, verdict = charging.start_transaction(charge_point_id, 1, tag, 100, at)
    again, verdict_again = charging.start_transaction(charge_point_id, 1, tag, 100, at)
    assert again.id == first.id and verdict_again.status == verdict.status == "Accepted"
    assert db.session.query(Transaction).filter_by(charge_point_id=charge_point_id).count() == 1


def test_an_unknown_id_tag_still_gets_a_transaction_answered_invalid(in_app):
    charge_point_id = factories.charge_point()
    transaction, verdict = charging.start_transaction(charge_point_id, 1, "NOBODY-KNOWS", 0, utcnow())
    assert transaction.id is not None and verdict.status == "Invalid" and transaction.id_tag_status == "Invalid"


def test_a_newer_start_on_the_connector_closes_the_running_one(in_app):
    charge_point_id, tag = factories.charge_point(), factories.id_tag()
    older, _ = charging.start_transaction(charge_point_id, 1, tag, 100, utcnow() - timedelta(minutes=5))
    newer, _ = charging.start_transaction(charge_point_id, 1, factories.id_tag(), 200, utcnow())
    db.session.expire_all()
    closed = db.session.get(Transaction, older.id)
    assert closed.stop_reason == charging.SUPERSEDED and closed.meter_stop == 100  # no energy invented
    assert charging.running_transaction_on(charge_point_id, 1).id == newer.id


def test_the_same_stop_twice_keeps_the_first(in_app):
    charge_point_id, tag = factories.charge_point(), factories.id_tag()
    transaction, _ = charging.start_transaction(charge_point_id, 2, tag, 0, utcnow() - timedelta(hours=1))
    stopped_at = utcnow()
    charging.stop_transaction(charge_point_id, transaction.id, 5000, stopped_at, "Local")
    charging.stop_transaction(charge_point_id, transaction.id, 9999, stopped_at + timedelta(seconds=5), "Remote")
    db.session.expire_all()
    stored = db.session.get(Transaction, transaction.id)
    assert (stored.meter_stop, stored.stop_reason) == (5000, "Local")


def test_a_stop_of_another_charge_points_transaction_changes_nothing(in_app):
    owner, other, tag = factories.charge_point(), factories.charge_point(), factories.id_tag()
    transaction, _ = charging.start_transaction(owner, 1, tag, 0, utcnow())
    charging.stop_transaction(other, transaction.id, 100, utcnow())
    db.session.expire_all()
    assert db.session.get(Transaction, transaction.id).stop_timestamp is None


def test_require_beyond_int32_is_not_found(in_app):
    import pytest
    from app.services.errors import NotFound
    with pytest.raises(NotFound):
        charging.require(2**31)
