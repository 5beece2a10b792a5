"""The RQ worker (python worker.py) killed with SIGKILL in the middle of a periodic job, then a new one
started, as a crash, the OOM killer or `docker kill` leave it. The killed run's work is either done or
not (never half-done), the next run finishes it, and the database ends as after one clean run: no row
twice, no charge point marked offline twice, no half-written backup under a backup's name. The new
worker carries on with the schedule at once."""
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from redis import Redis
from rq.registry import StartedJobRegistry
from sqlalchemy import text

from benchmark import children  # bench/benchmark.py: the child processes of a process
from tests.charge_points import eventually
from tests.conftest import BACKENDS, running_server
from tests.resilience.outages import LedgerChargePoint
from tests.resilience.test_master_killed import alive
from tests.servers import ROOT, fresh_redis_url, run_worker
from tests.tasks.test_heartbeat_timeout import naive_utc

STALE = 10000  # rows the heartbeat timeout marks offline in batches of 500: seconds of work to catch
QUIET = {"METER_COLLECTION_INTERVAL": 3600, "OFFLINE_CHECK_INTERVAL": 3600, "RESERVATION_CHECK_INTERVAL": 3600,
         "BACKUP_INTERVAL": 86400}


def start_worker(server, log_path: Path, *options: str) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "worker.py", *options], cwd=ROOT, env=server.environment,
                                stdout=log, stderr=subprocess.STDOUT)


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the worker and everything under it (its work horse, the cron scheduler, a pg_dump), as a
    container's end or the OOM killer does; each is stopped first, so that none forks meanwhile."""
    if process.poll() is not None:
        return
    stopped, found = [], [process.pid]
    while found:
        for pid in found:
            signal_if_alive(pid, signal.SIGSTOP)
        stopped += found
        found = [child for pid in found for child in children(pid) if child not in stopped]
    for pid in stopped:
        signal_if_alive(pid, signal.SIGKILL)
    process.wait()


def signal_if_alive(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError):  # (it ended meanwhile: a work horse done with its job)
        os.kill(pid, signum)


def insert_stale_charge_points(database, count: int) -> None:
    """Charge points recorded as connected an hour ago and silent since, that no process holds (as after a
    crash of the server that held them)."""
    database.execute(
        "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < :count) "
        "INSERT INTO charge_points (id, connected_at, last_seen, heartbeat_interval, created_at, updated_at) "
        "SELECT 'STALE-' || n, :old, :old, 60, :old, :old FROM numbers", count=count, old=naive_utc(hours_ago=1))


def marked_offline(database) -> int:
    return database.scalar("SELECT count(*) FROM charge_points WHERE id LIKE 'STALE-%' AND disconnected_at IS NOT NULL")


def timeout_rows(database) -> int:
    return database.scalar("SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout' AND "
                           "charge_point_id LIKE 'STALE-%'")


def assert_each_marked_once(database) -> None:
    """Every charge point marked offline has exactly one heartbeat_timeout row, and no other has one."""
    assert marked_offline(database) == timeout_rows(database)
    assert database.scalar("SELECT count(*) FROM (SELECT charge_point_id FROM system_logs WHERE event = "
                           "'heartbeat_timeout' GROUP BY charge_point_id HAVING count(*) > 1) AS twice") == 0
    assert database.scalar("SELECT count(*) FROM system_logs l JOIN charge_points c ON c.id = l.charge_point_id "
                           "WHERE l.event = 'heartbeat_timeout' AND c.disconnected_at IS NULL") == 0


def lapse_started_runs(server) -> None:
    """As a few minutes later: the heartbeats of the runs RQ holds as started have lapsed."""
    redis = Redis.from_url(server.environment["REDIS_URL"])
    key = StartedJobRegistry("ocpp", connection=redis).key
    redis.zadd(key, {member: 1 for member in redis.zrange(key, 0, -1)})


def job_runs(database, job: str) -> int:
    return database.scalar("SELECT count(*) FROM system_logs WHERE event = 'job' AND message LIKE :job",
                           job=f"{job}:%")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_heartbeat_timeout_killed_mid_run_is_finished_by_the_next_worker_once(backend, tmp_path_factory):
    with running_server(backend, tmp_path_factory, REDIS_URL=fresh_redis_url(), BACKGROUND_JOBS="true",
                        HEARTBEAT_CHECK_INTERVAL=1, **QUIET) as server:
        database, log_path = server.database, tmp_path_factory.mktemp("worker") / "worker.log"
        insert_stale_charge_points(database, STALE)
        lively = LedgerChargePoint(server.ws_url, interval=0.1)
        stop = asyncio.Event()
        sending = asyncio.create_task(lively.run(stop))
        worker = None
        try:
            await eventually(lambda: len(lively.acknowledged) >= 3, 30)
            worker = start_worker(server, log_path)
            await eventually(lambda: marked_offline(database) > 0, 60)
            kill_tree(worker)
            caught = marked_offline(database)
            assert 0 < caught < STALE, "the run was not caught in the middle"
            assert_each_marked_once(database)  # each batch is all or nothing: its UPDATE and its log rows
            lapse_started_runs(server)

            worker = start_worker(server, log_path)
            await eventually(lambda: marked_offline(database) == STALE, 60)
            # It goes on on schedule; the runs after the one that finished have nothing to do, and do nothing.
            runs = job_runs(database, "check_heartbeats")
            await eventually(lambda: job_runs(database, "check_heartbeats") >= runs + 2, 30)
            await eventually(lambda: abandoned(database) == ["check_heartbeats"], 30)  # found by RQ's cleanup
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 30) == 0, log_path.read_text()[-3000:]
            assert marked_offline(database) == timeout_rows(database) == STALE
            assert_each_marked_once(database)
            stop.set()
            await sending
            assert database.scalar("SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout' AND "
                                   "charge_point_id = :id", id=lively.charge_point_id) == 0  # live: left alone
            lively.assert_ledger_matches(database)
        finally:
            stop.set()
            await sending
            if worker is not None:
                kill_tree(worker)


def abandoned(database) -> list[str]:
    """The jobs the system log reports abandoned (ERROR job_abandoned), by name."""
    return [row["message"].split(" ", 1)[0] for row in database.rows(
        "SELECT message FROM system_logs WHERE event = 'job_abandoned' AND level = 'ERROR' ORDER BY id")]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_worker_killed_alone_leaves_no_scheduler_behind_and_its_run_finishes(backend, tmp_path_factory):
    """`kill -9` of worker.py alone (or a process manager that kills only the process it started): its
    work horse finishes the run under way, beside the next worker's run of the same job; its cron
    scheduler stops by itself instead of enqueueing beside the next worker's for ever."""
    with running_server(backend, tmp_path_factory, REDIS_URL=fresh_redis_url(), BACKGROUND_JOBS="true",
                        HEARTBEAT_CHECK_INTERVAL=1, **QUIET) as server:
        database, log_path = server.database, tmp_path_factory.mktemp("worker") / "worker.log"
        insert_stale_charge_points(database, STALE)
        worker, left = start_worker(server, log_path), []
        try:
            await eventually(lambda: marked_offline(database) > 0, 60)
            left = children(worker.pid)  # the cron scheduler and the work horse
            assert len(left) == 2
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            assert marked_offline(database) < STALE, "the run was not caught in the middle"
            worker = start_worker(server, log_path)
            await eventually(lambda: not any(alive(pid) for pid in left), 30)
            await eventually(lambda: marked_offline(database) == STALE, 60)
            runs = job_runs(database, "check_heartbeats")
            await eventually(lambda: job_runs(database, "check_heartbeats") >= runs + 2, 30)
            assert marked_offline(database) == timeout_rows(database) == STALE
            assert_each_marked_once(database)
            assert abandoned(database) == []  # its horse finished the run
        finally:
            kill_tree(worker)
            for pid in left:  # not left behind, should one not exit
                signal_if_alive(pid, signal.SIGKILL)


BACKUP = "app.tasks.backups.backup_database"
BALLAST_MB = 100  # SQLite: a database that takes a while to copy page by page


def finished_backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("ocpp-backup-*"))


def partial_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".ocpp-backup-*.partial"))


def add_ballast(database, megabytes: int) -> None:
    database.execute("CREATE TABLE ballast (data BLOB)")
    database.execute("WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < :count) "
                     "INSERT INTO ballast SELECT randomblob(65536) FROM numbers", count=megabytes * 16)


@contextmanager
def table_locked(database, table: str):
    """PostgreSQL: pg_dump waits for the lock on `table` (a migration holds such a lock) for the block."""
    with database.engine.connect() as connection:
        with connection.begin():
            connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield


def backup_waiting_for_lock(database, folder: Path) -> bool:
    return bool(partial_files(folder)) and database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'") == 1


def catch_sqlite_copy(worker: subprocess.Popen, folder: Path, database_file: Path) -> None:
    """Kill the worker as soon as the copy has begun (it lasts a good fraction of a second: a tight poll
    sees it), and check it was caught in the middle."""
    deadline = time.monotonic() + 60
    while not any(path.stat().st_size > 0 for path in partial_files(folder)):
        assert time.monotonic() < deadline and worker.poll() is None, "no backup began"
        time.sleep(0.002)
    kill_tree(worker)
    assert partial_files(folder)[0].stat().st_size < database_file.stat().st_size, "the copy was not caught mid-way"


def assert_complete(backup: Path, database) -> None:
    """The backup reads back whole, with the database's charge points."""
    if backup.suffix == ".sqlite3":
        copy = sqlite3.connect(backup)
        try:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert copy.execute("SELECT count(*) FROM charge_points").fetchone()[0] == \
                database.scalar("SELECT count(*) FROM charge_points")
        finally:
            copy.close()
    else:
        listing = subprocess.run(["pg_restore", "--file=-", "--data-only", "--table=charge_points", str(backup)],
                                 capture_output=True, text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr
        assert "COPY public.charge_points" in listing.stdout


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_backup_killed_mid_way_leaves_no_file_under_a_backups_name(backend, tmp_path_factory):
    with running_server(backend, tmp_path_factory, REDIS_URL=fresh_redis_url(), BACKGROUND_JOBS="true",
                        BACKUP_KEEP=5, **QUIET) as server:
        database, folder = server.database, Path(server.environment["BACKUP_DIR"])
        log_path = tmp_path_factory.mktemp("worker") / "worker.log"
        insert_stale_charge_points(database, 100)  # rows to find in the backups
        if backend == "sqlite":
            add_ballast(database, BALLAST_MB)
        await run_worker(server, BACKUP)
        [good] = finished_backups(folder)

        worker = start_worker(server, log_path)  # its scheduler enqueues a backup at once
        try:
            if backend == "sqlite":
                catch_sqlite_copy(worker, folder, Path(database.engine.url.database))
            else:
                with table_locked(database, "alembic_version"):
                    await eventually(lambda: backup_waiting_for_lock(database, folder), 60)
                    kill_tree(worker)
        finally:
            kill_tree(worker)
        assert finished_backups(folder) == [good]  # the killed run's file has no backup's name
        [killed] = partial_files(folder)

        # Two hours later: no run can still be writing it. A fresh one may belong to a run under way.
        os.utime(killed, (time.time() - 7200, time.time() - 7200))
        under_way = folder / ".ocpp-backup-20990101T000000000Z.sqlite3.0123456789abcdef.partial"
        under_way.write_bytes(b"being written")
        await run_worker(server, BACKUP)
        assert partial_files(folder) == [under_way]
        backups = finished_backups(folder)
        assert len(backups) == 2 and backups[0] == good
        for backup in backups:
            assert_complete(backup, database)
        assert job_runs(database, "backup_database") == 2  # the killed run logged nothing
        last = database.rows("SELECT message FROM system_logs WHERE event = 'job' AND message LIKE "
                             "'backup_database:%' ORDER BY id")[-1]["message"]
        assert "removed 1" in last


RUNNING = 400  # transactions of charge points offline for two days: flagged and closed in batches of 50


def insert_offline_transactions(database, count: int) -> None:
    """Charge points gone two days ago in the middle of a transaction (meterStart n Wh, no meter value)."""
    started, gone = naive_utc(hours_ago=72), naive_utc(hours_ago=48)
    numbers = "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < :count) "
    database.execute(numbers + "INSERT INTO charge_points (id, connected_at, disconnected_at, created_at, updated_at) "
                     "SELECT 'OFFLINE-' || n, :started, :gone, :started, :started FROM numbers",
                     count=count, started=started, gone=gone)
    database.execute(numbers + "INSERT INTO transactions (charge_point_id, connector_id, id_tag, id_tag_status, "
                     "start_timestamp, meter_start, created_at, updated_at) SELECT 'OFFLINE-' || n, 1, 'TAG', "
                     "'Accepted', :started, n, :started, :started FROM numbers", count=count, started=started)


def offline_counts(database) -> dict:
    """Transactions flagged and closed, and the WARNINGs saying so (each at most once per transaction)."""
    counts = database.rows(
        "SELECT count(offline_flagged_at) AS flagged, count(stop_timestamp) AS closed FROM transactions "
        "WHERE charge_point_id LIKE 'OFFLINE-%'")[0]
    for event in ("transaction_offline", "transaction_closed_offline"):
        rows = database.rows("SELECT charge_point_id, count(*) AS n FROM system_logs WHERE event = :event AND "
                             "charge_point_id LIKE 'OFFLINE-%' GROUP BY charge_point_id", event=event)
        assert all(row["n"] == 1 for row in rows), f"a transaction has {event} twice"
        counts = {**counts, event: len(rows)}
    return counts


def assert_each_change_logged(database) -> None:
    counts = offline_counts(database)
    assert counts["flagged"] == counts["transaction_offline"]
    assert counts["closed"] == counts["transaction_closed_offline"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_offline_transaction_monitor_killed_mid_run_is_finished_by_the_next_worker_once(backend,
                                                                                            tmp_path_factory):
    settings = {**QUIET, "OFFLINE_CHECK_INTERVAL": 1, "OFFLINE_TRANSACTION_TIMEOUT": 60,
                "OFFLINE_TRANSACTION_CLOSE_AFTER": 3600}
    with running_server(backend, tmp_path_factory, REDIS_URL=fresh_redis_url(), BACKGROUND_JOBS="true",
                        **settings) as server:
        database, log_path = server.database, tmp_path_factory.mktemp("worker") / "worker.log"
        insert_offline_transactions(database, RUNNING)
        worker = start_worker(server, log_path)
        try:
            await eventually(lambda: offline_counts(database)["closed"] > 0, 60)
            kill_tree(worker)
            assert offline_counts(database)["closed"] < RUNNING, "the run was not caught in the middle"
            assert_each_change_logged(database)  # each change committed with its log row

            worker = start_worker(server, log_path)
            await eventually(lambda: offline_counts(database)["closed"] == RUNNING, 60)
            runs = job_runs(database, "monitor_offline_transactions")  # and after it, runs that do nothing
            await eventually(lambda: job_runs(database, "monitor_offline_transactions") >= runs + 2, 30)
        finally:
            kill_tree(worker)
        assert offline_counts(database) == {"flagged": RUNNING, "closed": RUNNING, "transaction_offline": RUNNING,
                                            "transaction_closed_offline": RUNNING}
        # Closed as one clean run closes them: when the charge point went, at the last known reading.
        assert database.scalar("SELECT count(*) FROM transactions t JOIN charge_points c ON c.id = t.charge_point_id "
                               "WHERE t.charge_point_id LIKE 'OFFLINE-%' AND t.stop_timestamp = c.disconnected_at "
                               "AND t.meter_stop = t.meter_start AND t.stop_reason = 'OfflineTimeout'") == RUNNING
