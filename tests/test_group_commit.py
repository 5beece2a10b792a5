"""Group commit: many messages' writes in one transaction; a bad one fails alone, the rest commit."""
from contextlib import contextmanager
from datetime import datetime, timezone

import gevent
import pytest
from sqlalchemy import event, select, text

from app import create_app
from app.extensions import db
from app.group_commit import GroupCommit
from app.models import ChargePoint, ConnectorStatusChange, SystemLog
from app.services import charge_points, connectors
from config import Config
from tests.conftest import BACKENDS
from tests.servers import ScratchDatabase, require_backend

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    require_backend(request.param)
    database = ScratchDatabase(request.param, tmp_path)
    app = create_app(Config({"DATABASE_URL": database.url}))
    with app.app_context():
        db.session.add(ChargePoint(id="CP1"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()
    database.drop()


def status_report(charge_point_id: str, connector_id: int) -> list:
    history, _ = connectors._status_statements()
    return [(history, dict(charge_point_id=charge_point_id, connector_id=connector_id, status="Available",
                           error_code="NoError", info=None, vendor_id=None, vendor_error_code=None,
                           timestamp=NOW, received_at=NOW))]


def test_a_batch_commits_together_and_a_bad_message_fails_alone(app):
    writer = GroupCommit(app)
    # Queued before the writer runs, the five are one batch; the one for an unknown charge point
    # breaks the foreign key.
    units = [status_report("CP1", n) for n in range(1, 5)] + [status_report("NO-SUCH-CP", 9)]
    greenlets = [gevent.spawn(writer.write, unit) for unit in units]
    gevent.joinall(greenlets)
    assert [greenlet.successful() for greenlet in greenlets] == [True, True, True, True, False]
    assert "FOREIGN KEY" in str(greenlets[-1].exception).upper() or "foreign key" in str(greenlets[-1].exception)
    stored = db.session.scalars(select(ConnectorStatusChange.connector_id).order_by(ConnectorStatusChange.connector_id))
    assert list(stored) == [1, 2, 3, 4]


def test_repeated_writes_in_one_batch_are_idempotent(app):
    writer = GroupCommit(app)
    gevent.joinall([gevent.spawn(writer.write, status_report("CP1", 1)) for _ in range(3)], raise_error=True)
    assert db.session.scalar(select(db.func.count()).select_from(ConnectorStatusChange)) == 1


@contextmanager
def counted_commits():
    """How many transactions the engine commits in the block (SQLAlchemy's own event, no stand-in)."""
    commits = []
    listener = lambda _connection: commits.append(1)  # noqa: E731
    event.listen(db.engine, "commit", listener)
    try:
        yield commits
    finally:
        event.remove(db.engine, "commit", listener)


def test_handshakes_of_many_charge_points_commit_in_one_transaction(app):
    writer = GroupCommit(app)
    units = [charge_points.connected_operations(f"CP-NEW-{n}", NOW, "127.0.0.1") for n in range(20)]
    with counted_commits() as commits:
        gevent.joinall([gevent.spawn(writer.write, unit) for unit in units], raise_error=True)
    assert len(commits) == 1
    assert db.session.scalar(select(db.func.count()).select_from(ChargePoint).where(ChargePoint.id.like("CP-NEW-%"))) == 20
    assert db.session.scalar(select(db.func.count()).select_from(SystemLog).where(SystemLog.event == "connected")) == 20
    assert db.session.scalar(select(SystemLog.details).where(SystemLog.event == "connected").limit(1)) is None


def test_a_failing_message_among_handshakes_fails_alone(app):
    writer = GroupCommit(app)
    units = [charge_points.connected_operations(f"CP-OK-{n}", NOW, None) for n in range(3)]
    units.insert(1, status_report("NO-SUCH-CP", 1))
    greenlets = [gevent.spawn(writer.write, unit) for unit in units]
    gevent.joinall(greenlets)
    assert [greenlet.successful() for greenlet in greenlets] == [True, False, True, True]
    assert db.session.scalar(select(db.func.count()).select_from(SystemLog).where(SystemLog.event == "connected")) == 3


def test_a_repeated_handshake_in_one_batch_leaves_one_charge_point(app):
    writer = GroupCommit(app)
    later = NOW.replace(minute=5)
    gevent.joinall([gevent.spawn(writer.write, charge_points.connected_operations("CP-TWICE", moment, None))
                    for moment in (NOW, later, NOW)], raise_error=True)
    rows = db.session.execute(select(ChargePoint.id, ChargePoint.created_at).where(ChargePoint.id == "CP-TWICE")).all()
    assert len(rows) == 1 and rows[0].created_at == NOW


def test_a_writer_returns_only_once_its_writes_are_committed(app, tmp_path):
    writer = GroupCommit(app)
    writer.write(charge_points.connected_operations("CP-SEEN", NOW, None))
    # Another connection (not this session, which could see its own uncommitted work) finds it.
    with db.engine.connect() as other:
        assert other.scalar(text("SELECT count(*) FROM charge_points WHERE id = 'CP-SEEN'")) == 1
