"""Group commit: many messages' writes in one transaction; a bad one fails alone, the rest commit."""
from contextlib import contextmanager
from datetime import datetime, timezone

import gevent
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.group_commit import GroupCommit
from app.models import ChargePoint, ConnectorStatusChange, MeterValue, SystemLog
from app.services import charge_points, connectors, meter_values
from config import Config
from tests.conftest import BACKENDS
from tests.round_trips import RoundTripCounter
from tests.servers import ScratchDatabase, require_backend

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


@contextmanager
def migrated_app(kind: str, tmp_path, url_of=lambda url: url):
    """The app on a migrated scratch database of `kind` (reached at url_of(its url)), with charge point CP1."""
    database = ScratchDatabase(kind, tmp_path)
    app = create_app(Config({"DATABASE_URL": url_of(database.url)}))
    with app.app_context():
        db.session.add(ChargePoint(id="CP1"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()
    database.drop()


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    require_backend(request.param)
    with migrated_app(request.param, tmp_path) as app:
        yield app


def status_report(charge_point_id: str, connector_id: int, info: str | None = None) -> list:
    history, _ = connectors._status_statements()
    return [(history, dict(charge_point_id=charge_point_id, connector_id=connector_id, status="Available",
                           error_code="NoError", info=info, vendor_id=None, vendor_error_code=None,
                           timestamp=NOW, received_at=NOW))]


def status_and_history(charge_point_id: str, connector_id: int, status: str, at: datetime) -> list:
    """A StatusNotification's two writes: the connector's status (an upsert) and the history row."""
    history, upsert = connectors._status_statements()
    fields = dict(charge_point_id=charge_point_id, connector_id=connector_id, status=status, error_code="NoError",
                  info=None, vendor_id=None, vendor_error_code=None)
    return [(history, {**fields, "timestamp": at, "received_at": at}),
            (upsert, {**fields, "status_timestamp": at, "updated_at": at})]


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
def listening(name: str, listener):
    """SQLAlchemy's own engine event, listened to for the block (no stand-in)."""
    event.listen(db.engine, name, listener)
    try:
        yield
    finally:
        event.remove(db.engine, name, listener)


@contextmanager
def counted_commits():
    """How many transactions the engine commits in the block."""
    commits = []
    with listening("commit", lambda _connection: commits.append(1)):
        yield commits


def test_handshakes_of_many_charge_points_commit_in_one_transaction(app):
    writer = GroupCommit(app)
    units = [charge_points.connected_operations(f"CP-NEW-{n}", NOW, "127.0.0.1") for n in range(20)]
    with counted_commits() as commits:
        gevent.joinall([gevent.spawn(writer.write, unit) for unit in units], raise_error=True)
    if db.engine.dialect.name == "postgresql":
        # No COMMIT goes to PostgreSQL (the batch's query string is its own transaction): the rows say
        # which transaction wrote them.
        writers = db.session.scalar(text(
            "SELECT count(DISTINCT xmin::text) FROM (SELECT xmin FROM charge_points WHERE id LIKE 'CP-NEW-%'"
            " UNION ALL SELECT xmin FROM system_logs WHERE event = 'connected') AS written"))
        assert writers == 1
    else:
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


@pytest.fixture
def counted_postgres(tmp_path):
    """The app on PostgreSQL reached through a relay that counts the round trips on the wire."""
    require_backend("postgres")
    counter = None

    def through_counter(url: str) -> str:
        nonlocal counter
        url = make_url(url)
        counter = RoundTripCounter(url.host, url.port or 5432)
        return url.set(host="127.0.0.1", port=counter.port).render_as_string(hide_password=False)
    try:
        with migrated_app("postgres", tmp_path, through_counter) as app:
            yield app, counter
    finally:
        if counter is not None:
            counter.close()


def test_a_batch_of_every_kind_of_statement_is_one_round_trip_on_postgres(counted_postgres):
    app, counter = counted_postgres
    writer = GroupCommit(app)
    writer.write(status_report("CP1", 1))  # the pool's connection is made (its start-up is no batch's)
    later = NOW.replace(minute=5)
    # Quotes, semicolons and percent signs in values: the parameters are interpolated client-side.
    address = "10.0.0.1'; DROP TABLE charge_points; -- 100% %s %(at)s"
    sample = {"timestamp": "2024-01-01T00:01:00Z", "sampled_value": [{"value": "10"}, {"value": "7", "unit": "kW",
                                                                                        "measurand": "Power.Active.Import"}]}
    units = [charge_points.connected_operations("CP-RT", NOW, address),  # INSERT ... ON CONFLICT, UPDATE, INSERT
             status_report("CP1", 2, info="50%; it's"), status_report("CP1", 3),
             meter_values.insertions("CP1", 1, None, [sample]),
             [(charge_points._HEARTBEAT, {"charge_point_id": "CP-RT", "at": later})],
             # UPDATE, then INSERT ... SELECT of what that UPDATE wrote: one transaction, in order.
             [(charge_points._DISCONNECTED, {"charge_point_id": "CP-RT", "began": NOW, "at": later}),
              (charge_points._LOG_IF_DISCONNECTED, {"charge_point_id": "CP-RT", "at": later, "level": "INFO",
                                                   "event": "disconnected", "message": "gone"})]]
    before = counter.count
    gevent.joinall([gevent.spawn(writer.write, unit) for unit in units], raise_error=True)
    assert counter.count - before == 1
    assert db.session.scalar(select(SystemLog.message).where(SystemLog.event == "connected")) == f"connected from {address}"
    assert db.session.scalar(select(ConnectorStatusChange.info).where(ConnectorStatusChange.connector_id == 2)) == "50%; it's"
    assert db.session.scalar(select(db.func.count()).select_from(ConnectorStatusChange)) == 3
    assert sorted(db.session.scalars(select(MeterValue.value))) == ["10", "7"]
    assert db.session.scalar(select(ChargePoint.disconnected_at).where(ChargePoint.id == "CP-RT")) == later
    assert db.session.scalar(select(SystemLog.message).where(SystemLog.event == "disconnected")) == "gone"


def test_a_hot_path_read_is_one_round_trip_on_postgres(counted_postgres):
    """A hot path's read (a handshake's, a BootNotification's: app.database.read_all): the SELECT alone, no BEGIN before it and
    no ROLLBACK when the connection goes back to the pool; and it still sees what is committed."""
    app, counter = counted_postgres
    db.session.remove()  # (the fixture's session committed CP1 and holds nothing)
    assert charge_points.known_at_handshake("CP1").id == "CP1"  # the pool's connection is made
    before = counter.count
    assert charge_points.known_at_handshake("CP1").id == "CP1"
    assert charge_points.known_at_handshake("CP-NOT-THERE") is None
    assert counter.count - before == 2
    with db.engine.begin() as other:
        other.execute(text("INSERT INTO charge_points (id, created_at, updated_at) VALUES ('CP-NEW', now(), now())"))
    assert charge_points.known_at_handshake("CP-NEW").id == "CP-NEW"


@contextmanager
def sent_queries():
    """The query strings a batch sends to PostgreSQL (SQLAlchemy's own event, no stand-in; the statements
    rendered into them are executions of their own, which no_parameters tells apart)."""
    queries = []

    def listener(_connection, _cursor, statement, _parameters, context, _executemany):
        if context.execution_options.get("no_parameters"):
            queries.append(statement)
    with listening("before_cursor_execute", listener):
        yield queries


def test_the_rows_of_an_upsert_go_in_one_statement_on_postgres(counted_postgres):
    """One INSERT ... ON CONFLICT for a batch's rows (PostgreSQL parsed and planned one per row), and the
    rows are stored as one by one: a repeated row is added once, a status only replaces an older one."""
    app, _ = counted_postgres
    writer = GroupCommit(app)
    writer.write(status_report("CP1", 1))
    samples = [{"timestamp": "2024-01-01T00:01:00Z", "sampled_value": [
        {"value": str(n), "measurand": measurand}
        for n, measurand in enumerate(("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import"))]}]
    units = [status_and_history("CP1", n, "Available", NOW) for n in range(2, 7)] + \
        [meter_values.insertions("CP1", 1, None, samples)] * 2
    with sent_queries() as queries:
        gevent.joinall([gevent.spawn(writer.write, unit) for unit in units], raise_error=True)
    sent = "".join(query for query in queries if "INSERT" in query)
    assert sent.count("INSERT INTO connectors ") == 1
    assert sent.count("INSERT INTO connector_status_changes ") == 1
    assert sent.count("INSERT INTO meter_values ") == 1
    assert db.session.scalar(select(db.func.count()).select_from(ConnectorStatusChange)) == 6
    assert sorted(db.session.scalars(select(MeterValue.value))) == ["0", "1", "2"]  # the repeat added nothing
    assert db.session.scalar(text("SELECT count(*) FROM connectors WHERE status = 'Available'")) == 5


def test_an_upsert_with_a_repeated_key_keeps_a_statement_per_row_on_postgres(counted_postgres):
    """Two rows of one key in one INSERT ... ON CONFLICT DO UPDATE would fail the batch: they go apart,
    and the later report is the connector's status whatever their order."""
    app, _ = counted_postgres
    writer = GroupCommit(app)
    with sent_queries() as queries:
        gevent.joinall([gevent.spawn(writer.write, unit) for unit in (
            status_and_history("CP1", 1, "Charging", NOW.replace(minute=5)),
            status_and_history("CP1", 1, "Preparing", NOW.replace(minute=1)))], raise_error=True)
    assert "".join(queries).count("INSERT INTO connectors ") == 2
    assert db.session.scalar(text("SELECT status FROM connectors WHERE connector_id = 1")) == "Charging"
