"""The hot path's reads (a handshake's, a BootNotification's, a refused handshake's: ReadTogether over
read_all) on both databases: they see what is committed, on SQLite they neither wait for the process's
one write connection nor can write through theirs, and greenlets asking at once share one read."""
import gevent
import pytest
from sqlalchemy import event, exc, select, text

from app.database import _read_engine, read_all
from app.extensions import db
from app.models import ChargePoint, Transaction
from app.services import charge_points
from app.timeutil import utcnow
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
        row, = read_all(select(ChargePoint.__table__.c.vendor).where(ChargePoint.__table__.c.id == charge_point_id), {})
        assert row.vendor != "held"  # the committed row, read beside the writer
    finally:
        holder.rollback()
        holder.close()


def test_on_sqlite_the_read_connection_cannot_write(in_app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with _read_engine().connect() as connection, pytest.raises(exc.OperationalError, match="readonly"):
        connection.execute(text("DELETE FROM charge_points"))


def _transaction(charge_point_id: str, stopped: bool) -> None:
    now = utcnow()
    db.session.add(Transaction(charge_point_id=charge_point_id, connector_id=1, id_tag="TAG", id_tag_status="Accepted",
                               start_timestamp=now, meter_start=0, stop_timestamp=now if stopped else None))
    db.session.commit()


def _ask_at_once(app, charge_point_ids: list[str]) -> dict[str, bool]:
    def ask(charge_point_id):
        with app.app_context():
            return charge_points.has_open_transaction(charge_point_id)
    askers = {charge_point_id: gevent.spawn(ask, charge_point_id) for charge_point_id in charge_point_ids}
    gevent.joinall(list(askers.values()), timeout=30, raise_error=True)
    return {charge_point_id: asker.value for charge_point_id, asker in askers.items()}


def _statements_on(engine, counted: list):
    def count(_connection, _cursor, statement, *_):
        if "FROM transactions" in statement:
            counted.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    return lambda: event.remove(engine, "before_cursor_execute", count)


def test_greenlets_asking_at_once_share_one_read(in_app):
    running, stopped, idle = factories.charge_point(), factories.charge_point(), factories.charge_point()
    _transaction(running, stopped=False)
    _transaction(stopped, stopped=True)
    db.session.remove()
    counted = []
    stop_counting = _statements_on(_read_engine(), counted)
    try:
        answers = _ask_at_once(in_app, [running, stopped, idle] + [new_id() for _ in range(97)])
    finally:
        stop_counting()
    assert answers.pop(running) is True
    assert not any(answers.values()), "only the running transaction's charge point has one"
    # Those that ask before the event loop's next pass share a read; the hub runs greenlets about 5 ms
    # before it looks at its timers again, so 100 askers may take more than one read, never one each.
    assert 1 <= len(counted) <= 10, counted
    assert not in_app.extensions["reads_together"], "nothing left waiting for a read"


def test_a_failed_shared_read_is_read_again_key_by_key(in_app):
    """Each asker gets its own answer when the read they shared fails (here: the database refuses any read
    of more than one key); none gets another's error."""
    running = factories.charge_point()
    _transaction(running, stopped=False)
    db.session.remove()
    others = [new_id() for _ in range(9)]
    refused = []

    def refuse_shared_reads(_connection, _cursor, statement, parameters, *_):
        if "FROM transactions" in statement and len(parameters) > 1:
            refused.append(statement)
            raise exc.OperationalError(statement, parameters, Exception("refused for the test"))
    engine = _read_engine()
    event.listen(engine, "before_cursor_execute", refuse_shared_reads)
    try:
        answers = _ask_at_once(in_app, [running] + others)
    finally:
        event.remove(engine, "before_cursor_execute", refuse_shared_reads)
    assert len(refused) == 1
    assert answers == {running: True, **{other: False for other in others}}
