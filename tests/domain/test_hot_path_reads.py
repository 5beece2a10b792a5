"""The hot path's one-row reads (read_first: a handshake's, a BootNotification's) on both databases:
they see what is committed, and on SQLite they neither wait for the process's one write connection nor
can write through theirs."""
import pytest
from sqlalchemy import exc, select, text

from app.database import read_first
from app.extensions import db
from app.models import ChargePoint
from app.services import charge_points
from tests.charge_points import new_id
from tests.domain import factories


def test_a_read_sees_what_is_committed_and_not_what_is_not(in_app):
    committed = factories.charge_point()
    db.session.remove()
    assert charge_points.known_at_handshake(committed).id == committed
    with db.engine.connect() as writer:  # another connection's write, not committed
        uncommitted = new_id()
        writer.execute(ChargePoint.__table__.insert().values(id=uncommitted))
        assert charge_points.known_at_handshake(uncommitted) is None
        writer.rollback()


def test_a_read_inside_a_transaction_of_the_session_sees_its_writes(in_app):
    charge_point_id = new_id()
    db.session.add(ChargePoint(id=charge_point_id))
    db.session.flush()
    assert charge_points.known_at_handshake(charge_point_id).id == charge_point_id
    db.session.rollback()
    assert charge_points.known_at_handshake(charge_point_id) is None


def test_on_sqlite_a_read_does_not_wait_for_the_write_connection(in_app):
    """The main pool has one connection on SQLite, held across yields by the group commit and by requests;
    a storm's reads queued behind it for 30 s (QueuePool limit of size 1 reached)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's reads share a pool of DB_POOL_SIZE connections")
    charge_point_id = factories.charge_point()
    db.session.remove()
    holder = db.engine.connect()  # the one connection of the main pool, in a write transaction
    try:
        holder.execute(text("UPDATE charge_points SET vendor = 'held' WHERE id = :id"), {"id": charge_point_id})
        assert db.engine.pool.checkedout() == 1 and db.engine.pool.size() == 1
        row = read_first(select(ChargePoint.__table__.c.vendor).where(ChargePoint.__table__.c.id == charge_point_id),
                         {})
        assert row is not None and row.vendor != "held"  # the committed row, read beside the writer
    finally:
        holder.rollback()
        holder.close()


def test_on_sqlite_the_read_connection_cannot_write(in_app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    from app.database import _read_engine
    with _read_engine().connect() as connection, pytest.raises(exc.OperationalError, match="readonly"):
        connection.execute(text("DELETE FROM charge_points"))
