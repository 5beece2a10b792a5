"""The database goes away under a running server and comes back: PostgreSQL of the test's own stopped and
started, and SQLite on a disk that fills up. Charge points that keep sending stay connected, get
CALLERROR InternalError for what could not be written, and everything they got an answer for is in the
database exactly once; handshakes and the API answer 503 with Retry-After meanwhile; readiness says
not ready; the server needs no restart."""
import asyncio
import os
import signal

import flask_migrate
import gevent
import httpx
import pytest
import websockets

from app import create_app
from app.extensions import db
from app.group_commit import GroupCommit
from app.services import charge_points, system_log
from app.timeutil import utcnow
from benchmark import children  # bench/benchmark.py: a process's children
from config import Config
from tests.charge_points import connected, eventually, new_id
from tests.resilience.outages import (Database, LedgerChargePoint, OwnPostgres, OwnRedis, fill, require_mount,
                                      small_disk)
from tests.servers import ScratchDatabase, start_server

CHARGE_POINTS = 4
FAILED_BATCHES = "group commit: batches failed, the database is unavailable; their messages are tried one at a time"
UNSTORED_EVENTS = "system log events not stored (they are in the process log): the database is unavailable"


async def refused_handshake(server) -> websockets.InvalidStatus:
    with pytest.raises(websockets.InvalidStatus) as refusal:
        async with websockets.connect(f"{server.ws_url}/{new_id()}", subprotocols=["ocpp1.6"], open_timeout=20):
            pass
    return refusal.value


async def assert_unavailable_meanwhile(server) -> list[str]:
    """What a charge point and an operator see while the database cannot be written; the id tags whose
    writes were acknowledged meanwhile all the same.

    On a full disk SQLite can still write what fits in the pages its WAL already has on disk (the server
    empties the WAL every 0.25 s): such a write is acknowledged, and must be kept; one that needs more of
    the disk gets 503."""
    refusal = await refused_handshake(server)
    assert refusal.response.status_code == 503 and int(refusal.response.headers["Retry-After"]) > 0
    acknowledged = []
    async with httpx.AsyncClient(base_url=server.api_url, timeout=10) as api:
        for _ in range(500):
            tag = new_id("T")[-12:]
            write = await api.post("/api/authorizations", json={"idTag": tag})
            if write.status_code != 201:
                break
            acknowledged.append(tag)
        assert write.status_code == 503 and "Retry-After" in write.headers
        assert write.json()["error"] == "service_unavailable" and "database" in write.json()["message"]
        if isinstance(server.database, Database):  # PostgreSQL away: the status says so, and what it knows
            status = await api.get("/api/status")
            assert status.status_code == 200 and status.json()["database"]["connected"] is False
            assert status.json()["chargePointsTotal"] is None and status.json()["chargePointsConnected"] >= CHARGE_POINTS
        # (On SQLite the readiness probe's one-row write may fit in the WAL too, like the writes above;
        # the charge points' writes keep failing, and readiness says so.)
        for _ in range(50):
            ready = await api.get("/readyz")
            if ready.status_code == 503:
                break
            await asyncio.sleep(0.1)
        assert ready.status_code == 503 and ready.json()["database"] is False and ready.json()["problems"]["database"]
        assert (await api.get("/healthz")).status_code == 200
    return acknowledged


async def outage_under_load(server, database, begin, end) -> None:
    """Charge points keep sending through begin() ... end(); then the ledger must match the database."""
    charge_points = [LedgerChargePoint(server.ws_url) for _ in range(CHARGE_POINTS)]
    stop = asyncio.Event()
    sending = [asyncio.create_task(charge_point.run(stop)) for charge_point in charge_points]
    try:
        await eventually(lambda: all(len(cp.acknowledged) >= 3 for cp in charge_points), 20)
        # (A first connection may have been given up while a loaded machine still booted a worker.)
        connections_before = [(cp.connections, len(cp.closes)) for cp in charge_points]
        async with connected(server) as leaving:
            await begin()
            await eventually(lambda: all(cp.call_errors >= 2 for cp in charge_points), 20)
        # (`leaving` disconnected during the outage: its end is recorded once the database is back)
        acknowledged = await assert_unavailable_meanwhile(server)
        await asyncio.sleep(1.5)  # more failing messages, last-seen writes and handshakes
        await end()
        marks = [len(cp.acknowledged) for cp in charge_points]
        await eventually(lambda: all(len(cp.acknowledged) >= mark + 5 for cp, mark in zip(charge_points, marks)), 30)
    finally:
        stop.set()
        await asyncio.gather(*sending)
    for charge_point, before in zip(charge_points, connections_before):
        assert (charge_point.connections, len(charge_point.closes)) == before, "a charge point was disconnected"
        charge_point.assert_ledger_matches(database)
    for tag in acknowledged:
        assert database.scalar("SELECT count(*) FROM id_tags WHERE id_tag = :tag", tag=tag) == 1, tag
    await eventually(lambda: database.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id",
                                             id=leaving.id) is not None, 15)
    async with httpx.AsyncClient(base_url=server.api_url, timeout=10) as api:
        await eventually_ready(api)
    log = server.log()
    # No request failed unhandled ("Exception on /..."); the only tracebacks are the system log's own, for
    # an event it could not store (app/services/system_log.py).
    assert "Exception on" not in log, log[log.index("Exception on"):][:6000]
    assert log.count("Traceback") <= log.count("could not store the event above in the system log")
    # Each repeated failure logged once per interval with a count, not once per message, handshake or
    # batch of the group commit.
    assert 1 <= log.count("CALLs answered InternalError: the database is unavailable (") <= 2 * workers_of(server)
    assert 1 <= log.count("handshakes answered 503: the database is unavailable (") <= 2 * workers_of(server)
    assert log.count(f"{FAILED_BATCHES} (") <= 2 * workers_of(server) and "messages failed" not in log


def workers_of(server) -> int:
    return int(server.environment.get("WEB_CONCURRENCY", 1))


async def eventually_ready(api: httpx.AsyncClient) -> None:
    for _ in range(100):
        if (await api.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("never ready again")


@pytest.fixture
def own_postgres():
    postgres = OwnPostgres()
    yield postgres
    postgres.remove()


@pytest.mark.parametrize("workers", [1, 2])
async def test_postgres_stopped_and_started_under_a_session(workers, own_postgres, tmp_path):
    settings = {"OCPP_HEARTBEAT_INTERVAL": 1, "BACKGROUND_JOBS": "false", "WEB_CONCURRENCY": workers}
    redis = OwnRedis() if workers > 1 else None
    if redis is not None:
        settings["REDIS_URL"] = redis.url
    database = Database(own_postgres.url)
    server = start_server(database, tmp_path, **settings)

    async def begin():
        await asyncio.to_thread(own_postgres.stop)

    async def end():
        await asyncio.to_thread(own_postgres.start)
    try:
        await outage_under_load(server, database, begin, end)
    finally:
        server.stop()
        database.drop()
        if redis is not None:
            redis.remove()


@pytest.mark.parametrize("workers", [1, 2])
async def test_sqlite_disk_fills_up_and_is_freed(workers, tmp_path):
    require_mount()
    redis = OwnRedis() if workers > 1 else None
    with small_disk(16) as disk:
        database = ScratchDatabase("sqlite", disk)
        server = start_server(database, tmp_path, OCPP_HEARTBEAT_INTERVAL=1, BACKGROUND_JOBS="false",
                              WEB_CONCURRENCY=workers, **({"REDIS_URL": redis.url} if redis else {}))
        filler = None

        async def begin():
            nonlocal filler
            filler = await asyncio.to_thread(fill, disk)

        async def end():
            filler.unlink()
        try:
            await outage_under_load(server, database, begin, end)
        finally:
            server.stop()
            database.drop()
            if redis is not None:
                redis.remove()


async def test_postgres_that_hangs_fails_the_writes_waiting_on_it(own_postgres, tmp_path):
    """A PostgreSQL that stops answering without closing anything (its processes stopped, as a host that
    hangs or a network that drops packets looks): the writes waiting on it fail after the statement
    timeout (plus 5 s) instead of holding their charge points forever, and all is well once it answers."""
    database = Database(own_postgres.url)
    server = start_server(database, tmp_path, BACKGROUND_JOBS="false", DB_STATEMENT_TIMEOUT=1, DB_CONNECT_TIMEOUT=1)
    postgres_processes = []

    async def begin():
        postgres_processes.extend([own_postgres.pid(), *children(own_postgres.pid())])
        for pid in postgres_processes:
            os.kill(pid, signal.SIGSTOP)

    async def end():
        while postgres_processes:
            try:
                os.kill(postgres_processes.pop(), signal.SIGCONT)
            except ProcessLookupError:
                pass
    try:
        await outage_under_load(server, database, begin, end)
        log = server.log()
        assert "PostgreSQL did not answer within 6 s" in log  # a statement, after statement_timeout + 5 s
        assert "PostgreSQL did not answer within 1 s" in log  # a new connection, after DB_CONNECT_TIMEOUT
    finally:
        await end()
        server.stop()
        database.drop()


@pytest.fixture
def app_on_own_postgres(own_postgres):
    """The application in this process on the test's own PostgreSQL (created in a fixture: create_app sets
    the root logger's handlers, and caplog adds its own for the test's call)."""
    app = create_app(Config({"DATABASE_URL": own_postgres.url, "BACKGROUND_JOBS": "false", "LOG_LEVEL": "WARNING"}))
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_writes_that_find_no_database_are_logged_once_per_interval_with_a_count(app_on_own_postgres, own_postgres,
                                                                                 caplog):
    """The group commit's batches and the system log's events that fail while PostgreSQL is stopped: one
    line (a count follows when it works again), not a line per batch nor a traceback per event."""
    app, writer = app_on_own_postgres, GroupCommit(app_on_own_postgres)

    def batch_of_five() -> list[gevent.Greenlet]:  # queued before the writer runs: one batch
        return gevent.joinall([gevent.spawn(writer.write, charge_points.connected_operations(new_id(), utcnow(), None))
                               for _ in range(5)])
    with app.app_context():
        own_postgres.stop()
        for _ in range(10):
            assert not any(greenlet.successful() for greenlet in batch_of_five())
        for n in range(50):
            system_log.info("outage_test", f"event {n}")
        own_postgres.start()
        assert all(greenlet.successful() for greenlet in batch_of_five())
        system_log.info("outage_test", "stored")
        db.session.remove()
    lines = [record.getMessage() for record in caplog.records]
    assert "Traceback" not in caplog.text and not any("could not store" in line for line in lines), caplog.text
    assert sum(line.startswith(f"{FAILED_BATCHES} (") for line in lines) == 1, lines
    assert any(line.startswith(f"{FAILED_BATCHES}: works again (9 more failures") for line in lines), lines
    assert sum(line.startswith(f"{UNSTORED_EVENTS} (") for line in lines) == 1, lines
    assert any(line.startswith(f"{UNSTORED_EVENTS}: works again (49 more failures") for line in lines), lines
