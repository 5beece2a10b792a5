"""The heartbeat timeout at fleet scale: thousands of silent charge points marked offline in bounded,
set-based batches that leave the hub free; a live connection is judged by what it sends (frames and
pongs), not by a last_seen written late."""
import asyncio
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import gevent
import gevent.events
import pytest
from ocpp.v16 import call
from psycogreen.gevent import patch_psycopg
from psycopg2 import extensions

from app import create_app
from app.extensions import db
from app.models import ChargePoint
from app.tasks.heartbeats import BATCH, check_heartbeats
from config import Config
from tests.charge_points import connected, eventually
from tests.conftest import BACKENDS, running_server
from tests.servers import ScratchDatabase, fresh_redis_url, require_backend

SILENT, FRESH = 3000, 20
BLOCKED = "appears to be blocked"


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    require_backend(request.param)
    database = ScratchDatabase(request.param, tmp_path)
    app = create_app(Config({"DATABASE_URL": database.url, "OCPP_HEARTBEAT_INTERVAL": "60",
                             "HEARTBEAT_GRACE_FACTOR": "2"}))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    database.drop()


def insert_charge_points(count: int, prefix: str, last_seen: datetime, disconnected_at=None) -> None:
    """Set-based, as a real fleet's rows would be there already."""
    connected_at = last_seen - timedelta(minutes=5)
    db.session.execute(ChargePoint.__table__.insert(), [
        {"id": f"{prefix}-{n:05d}", "connected_at": connected_at, "last_seen": last_seen,
         "disconnected_at": disconnected_at, "heartbeat_interval": 60, "created_at": connected_at,
         "updated_at": connected_at} for n in range(count)])
    db.session.commit()


@contextmanager
def monitored_hub():
    """gevent's monitor thread on this process's hub for the block; the blocking reports it made."""
    hub, reports = gevent.get_hub(), []
    previous = gevent.config.monitor_thread, gevent.config.max_blocking_time

    def collect(event):
        if isinstance(event, gevent.events.EventLoopBlocked):
            reports.append("\n".join(map(str, event.info)))
    gevent.config.monitor_thread, gevent.config.max_blocking_time = True, 0.1
    gevent.events.subscribers.append(collect)
    monitor = hub.start_periodic_monitoring_thread()
    try:
        yield reports
    finally:
        monitor.kill()  # outside gevent work the main greenlet would count as blocking
        hub.periodic_monitoring_thread = None
        gevent.events.subscribers.remove(collect)
        gevent.config.monitor_thread, gevent.config.max_blocking_time = previous


@contextmanager
def waits_yield():
    """PostgreSQL's answers awaited in the hub, as in the server (wsgi.py): what the monitor then finds
    holding the hub is the job's own work, not the database's."""
    previous = extensions.get_wait_callback()
    patch_psycopg()
    try:
        yield
    finally:
        extensions.set_wait_callback(previous)


def run_job(app) -> dict:
    """check_heartbeats in a greenlet of its own, as the in-process runner runs it."""
    def in_context():
        with app.app_context():
            return check_heartbeats()
    return gevent.spawn(in_context).get(timeout=300)


def count(sql: str) -> int:
    with db.engine.connect() as connection:  # (SQLite: the job needs the process's one connection next)
        return connection.scalar(db.text(sql))


def test_thousands_of_silent_charge_points_go_offline_in_batches_without_blocking(app):
    now = datetime.now(timezone.utc)
    insert_charge_points(SILENT, "SILENT", now - timedelta(hours=1))
    insert_charge_points(FRESH, "FRESH", now)
    insert_charge_points(FRESH, "GONE", now - timedelta(hours=1), disconnected_at=now - timedelta(minutes=1))
    ticks = 0

    def tick():
        nonlocal ticks
        while True:
            ticks += 1
            gevent.sleep(0)

    with waits_yield(), monitored_hub() as blocking:
        ticker = gevent.spawn(tick)
        outcome = run_job(app)
        ticker.kill()
    assert outcome["offline"] == SILENT
    assert outcome["batches"] >= SILENT // BATCH
    assert ticks >= outcome["batches"]  # the job let other greenlets run between its batches
    assert blocking == []
    assert count("SELECT count(*) FROM charge_points WHERE id LIKE 'SILENT-%' AND disconnected_at IS NULL") == 0
    assert count("SELECT count(*) FROM charge_points WHERE id LIKE 'FRESH-%' AND disconnected_at IS NOT NULL") == 0
    assert count("SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout'") == SILENT
    assert count("SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout' AND charge_point_id NOT LIKE "
                 "'SILENT-%'") == 0
    # A second run finds nothing: what was marked stays marked once, and no row is logged twice.
    assert run_job(app)["offline"] == 0
    assert count("SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout'") == SILENT


@pytest.fixture(scope="module", params=BACKENDS)
def watched_server(request, tmp_path_factory):
    # Pings every second; heartbeats due every 2 s, a charge point silent for 4 s is offline.
    with running_server(request.param, tmp_path_factory, BACKGROUND_JOBS="true", HEARTBEAT_CHECK_INTERVAL=1,
                        OCPP_HEARTBEAT_INTERVAL=2, HEARTBEAT_GRACE_FACTOR=2, OCPP_WEBSOCKET_PING_INTERVAL=1,
                        METER_COLLECTION_INTERVAL=3600, OFFLINE_CHECK_INTERVAL=3600,
                        RESERVATION_CHECK_INTERVAL=3600, BACKUP_INTERVAL=86400) as server:
        yield server


def naive_utc(hours_ago: float) -> datetime:
    """A moment as the server stores it (naive UTC), for raw SQL."""
    return (datetime.now(timezone.utc) - timedelta(hours=hours_ago)).replace(tzinfo=None)


def heartbeat_timeouts(server, charge_point_id: str) -> int:
    return server.database.scalar("SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout' AND "
                                  "charge_point_id = :id", id=charge_point_id)


async def test_a_connected_charge_point_that_answers_pings_stays_online_whatever_last_seen_says(watched_server):
    db = watched_server.database
    async with connected(watched_server) as quiet:
        await quiet.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        # A server too busy to write last_seen would leave it like this; the charge point only answers pings.
        db.execute("UPDATE charge_points SET last_seen = :old WHERE id = :id",
                   old=naive_utc(hours_ago=1), id=quiet.id)
        await asyncio.sleep(6)  # several runs of the check, each past the 4 s it allows
        assert quiet._connection.close_code is None
        assert (await quiet.call(call.Heartbeat())).current_time
    assert heartbeat_timeouts(watched_server, quiet.id) == 0


async def test_a_connection_that_stops_answering_is_marked_offline(watched_server):
    db = watched_server.database
    async with connected(watched_server) as mute:
        await mute.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        mute._connection.transport.pause_reading()  # open, but it reads nothing: no pong, no frame
        await eventually(lambda: db.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id",
                                           id=mute.id) is not None, timeout=30)


async def test_thousands_of_unheld_silent_charge_points_leave_the_server_responsive(watched_server):
    """Rows recorded as connected that no process holds (as after a crash) are marked offline by the
    in-process job without gevent's monitor thread reporting the hub blocked."""
    db, already = watched_server.database, len(watched_server.log())
    old = naive_utc(hours_ago=1)
    db.execute("WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 5000) "
               "INSERT INTO charge_points (id, connected_at, last_seen, heartbeat_interval, created_at, updated_at) "
               "SELECT 'CRASHED-' || n, :old, :old, 2, :old, :old FROM numbers", old=old)
    await eventually(lambda: db.scalar("SELECT count(*) FROM charge_points WHERE id LIKE 'CRASHED-%' AND "
                                       "disconnected_at IS NULL") == 0, timeout=120)
    async with connected(watched_server) as lively:  # and the server still answers at once
        assert (await lively.call(call.Heartbeat())).current_time
    assert BLOCKED not in watched_server.log()[already:]


async def test_with_redis_each_server_process_closes_its_own_silent_connections(backend, tmp_path_factory):
    """The jobs run in the RQ worker, which cannot see a connection's liveness: the process holding it
    closes it and marks it offline by itself."""
    with running_server(backend, tmp_path_factory, REDIS_URL=fresh_redis_url(), BACKGROUND_JOBS="true",
                        HEARTBEAT_CHECK_INTERVAL=1, OCPP_HEARTBEAT_INTERVAL=1, HEARTBEAT_GRACE_FACTOR=2) as server:
        async with connected(server) as mute, connected(server) as lively:
            await mute.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
            mute._connection.transport.pause_reading()
            for _ in range(12):  # 6 s: past the 2 s allowed, several runs of the check
                await lively.call(call.Heartbeat())
                await asyncio.sleep(0.5)
            await eventually(lambda: heartbeat_timeouts(server, mute.id) == 1, timeout=20)
            assert lively._connection.close_code is None
        assert heartbeat_timeouts(server, lively.id) == 0
