"""The periodic jobs run by a real RQ worker (worker.py --burst) on real Redis, against a real server
holding real charge points, on SQLite and PostgreSQL."""
import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.charge_points import connected, eventually, timestamp
from tests.conftest import BACKENDS, running_server
from tests.servers import ROOT, ScratchDatabase, fresh_redis_url, run_worker

METERS = "app.tasks.meters.collect_meter_values"
HEARTBEATS = "app.tasks.heartbeats.check_heartbeats"
OFFLINE = "app.tasks.offline_transactions.monitor_offline_transactions"
BACKUP = "app.tasks.backups.backup_database"


@pytest.fixture(scope="module", params=BACKENDS)
def redis_server(request, tmp_path_factory):
    with running_server(request.param, tmp_path_factory, REDIS_URL=fresh_redis_url(), OCPP_HEARTBEAT_INTERVAL=1,
                        HEARTBEAT_GRACE_FACTOR=2, OFFLINE_TRANSACTION_TIMEOUT=1, OFFLINE_TRANSACTION_CLOSE_AFTER=3600,
                        BACKUP_KEEP=2, OCPP_COMMAND_TIMEOUT=5) as server:
        yield server


def job_log(server, job: str) -> list[dict]:
    return [row for row in server.database.rows("SELECT * FROM system_logs WHERE event = 'job' ORDER BY id")
            if row["message"].startswith(job.rsplit(".", 1)[1])]


async def test_meter_collection_reaches_the_charge_point_through_the_worker(redis_server):
    db = redis_server.database
    async with connected(redis_server) as charge_point, connected(redis_server) as idle:
        transaction_id = await charge_point.start_transaction(connector_id=2, meter_start=1000)
        charge_point.meter_wh = 1234
        await idle.call(call.Heartbeat())
        await run_worker(redis_server, METERS)
        assert await charge_point.wait_for_call("TriggerMessage") == {"requested_message": "MeterValues",
                                                                        "connector_id": 2}
        assert idle.received == []  # no running transaction, nothing asked
        await eventually(lambda: db.scalar("SELECT value FROM meter_values WHERE transaction_id = :id",
                                           id=transaction_id) == "1234")
    assert db.scalar("SELECT context FROM meter_values WHERE transaction_id = :id", id=transaction_id) == "Trigger"
    assert "asked 1, accepted 1" in job_log(redis_server, METERS)[-1]["message"]


async def test_a_silent_charge_point_is_marked_offline(redis_server):
    db = redis_server.database
    async with connected(redis_server) as silent, connected(redis_server) as lively:
        await silent.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))

        async def keep_beating():
            while True:
                await lively.call(call.Heartbeat())
                await asyncio.sleep(0.3)

        beating = asyncio.create_task(keep_beating())
        await asyncio.sleep(2.5)  # the silent one passes the 2 s grace (heartbeat 1 s x 2)
        await run_worker(redis_server, HEARTBEATS)
        await asyncio.wait_for(silent._connection.wait_closed(), 10)
        beating.cancel()
        assert (await lively.call(call.Heartbeat())).current_time
    await eventually(lambda: db.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id", id=silent.id))
    warning = db.rows("SELECT * FROM system_logs WHERE charge_point_id = :id AND event = 'heartbeat_timeout'",
                      id=silent.id)
    assert len(warning) == 1 and warning[0]["level"] == "WARNING" and "marked offline" in warning[0]["message"]
    assert not db.rows("SELECT * FROM system_logs WHERE charge_point_id = :id AND event = 'heartbeat_timeout'",
                       id=lively.id)


def as_of(seconds_from_now: float) -> tuple[str, dict]:
    """The offline monitor run as of a moment other than now: the test decides how long the charge point
    has been offline, whatever time the worker takes to start."""
    return OFFLINE, {"now": timestamp(seconds_from_now)}


async def offline_transaction(server) -> tuple[str, int]:
    """A charge point that started a transaction, sent one meter value (1500 Wh) and went away."""
    db = server.database
    async with connected(server) as charge_point:
        transaction_id = await charge_point.start_transaction(meter_start=1000)
        await charge_point.call(call.MeterValues(connector_id=1, transaction_id=transaction_id, meter_value=[
            {"timestamp": timestamp(), "sampledValue": [{"value": "1500"}]}]))
    await eventually(lambda: db.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id", id=charge_point.id))
    return charge_point.id, transaction_id


def events_of(db, charge_point_id: str) -> list[str]:
    return [row["event"] for row in db.rows("SELECT event FROM system_logs WHERE charge_point_id = :id ORDER BY id",
                                            id=charge_point_id)]


async def test_offline_transaction_flagged_closed_then_corrected(redis_server):
    db = redis_server.database
    charge_point_id, transaction_id = await offline_transaction(redis_server)
    # Offline for a minute (past OFFLINE_TRANSACTION_TIMEOUT, short of OFFLINE_TRANSACTION_CLOSE_AFTER).
    await run_worker(redis_server, as_of(60))
    row = db.rows("SELECT * FROM transactions WHERE id = :id", id=transaction_id)[0]
    assert row["offline_flagged_at"] is not None and row["stop_timestamp"] is None
    await run_worker(redis_server, as_of(7200), as_of(7200))  # past the close limit, twice: nothing closes twice
    row = db.rows("SELECT * FROM transactions WHERE id = :id", id=transaction_id)[0]
    assert (row["meter_stop"], row["stop_reason"], row["stopped_by"]) == (1500, "OfflineTimeout", "CentralSystem")
    events = events_of(db, charge_point_id)
    assert events.count("transaction_offline") == 1 and events.count("transaction_closed_offline") == 1
    async with connected(redis_server, charge_point_id) as back:
        await back.call(call.StopTransaction(transaction_id=transaction_id, meter_stop=1800, timestamp=timestamp(-5),
                                             reason="PowerLoss"))
    row = db.rows("SELECT * FROM transactions WHERE id = :id", id=transaction_id)[0]
    assert (row["meter_stop"], row["stop_reason"], row["stopped_by"]) == (1800, "PowerLoss", "ChargePoint")
    assert db.scalar("SELECT count(*) FROM transactions WHERE charge_point_id = :id", id=charge_point_id) == 1


async def test_a_transaction_first_found_past_the_close_limit_keeps_both_moments(redis_server):
    db = redis_server.database
    charge_point_id, transaction_id = await offline_transaction(redis_server)
    await run_worker(redis_server, as_of(7200))  # the first run to see it is already past the close limit
    row = db.rows("SELECT * FROM transactions WHERE id = :id", id=transaction_id)[0]
    assert row["offline_flagged_at"] is not None and row["stop_timestamp"] is not None
    assert (row["meter_stop"], row["stop_reason"]) == (1500, "OfflineTimeout")
    assert events_of(db, charge_point_id)[-2:] == ["transaction_offline", "transaction_closed_offline"]


async def test_a_transaction_of_a_charge_point_offline_briefly_is_left_alone(redis_server):
    db = redis_server.database
    _, transaction_id = await offline_transaction(redis_server)
    await run_worker(redis_server, as_of(-3600))  # as of before it went offline
    row = db.rows("SELECT * FROM transactions WHERE id = :id", id=transaction_id)[0]
    assert row["offline_flagged_at"] is None and row["stop_timestamp"] is None


async def test_backup_restores_into_a_fresh_database_with_the_same_rows(redis_server, tmp_path):
    async with connected(redis_server) as charge_point:
        await charge_point.start_transaction(meter_start=5)
    by_hand = subprocess.run([sys.executable, "-m", "flask", "backup"], cwd=ROOT, env=redis_server.environment,
                             capture_output=True, text=True, timeout=120)
    assert by_hand.returncode == 0 and Path(by_hand.stdout.split(" (")[0]).is_file(), by_hand.stderr
    for _ in range(2):
        await run_worker(redis_server, BACKUP)
    folder = Path(redis_server.environment["BACKUP_DIR"])
    made = sorted(folder.iterdir())
    assert len(made) == 2  # BACKUP_KEEP=2: the oldest was removed
    assert all(path.name.startswith("ocpp-backup-") and not path.name.endswith(".partial") for path in made)
    fresh = ScratchDatabase(redis_server.database.kind, tmp_path, migrated=False)
    try:
        environment = {**redis_server.environment, "DATABASE_URL": fresh.url}
        refused = subprocess.run([sys.executable, "-m", "flask", "restore", str(made[-1])], cwd=ROOT, env=environment,
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0 and "--yes" in refused.stderr
        restored = subprocess.run([sys.executable, "-m", "flask", "restore", str(made[-1]), "--yes"], cwd=ROOT,
                                  env=environment, capture_output=True, text=True, timeout=120)
        assert restored.returncode == 0, restored.stderr
        for table in ("charge_points", "transactions", "meter_values", "connectors"):
            query = f"SELECT count(*) FROM {table}"
            assert fresh.scalar(query) == redis_server.database.scalar(query), table
        assert fresh.scalar("SELECT count(*) FROM transactions WHERE charge_point_id = :id", id=charge_point.id) == 1
    finally:
        fresh.drop()
    assert "backup ocpp-backup-" in job_log(redis_server, BACKUP)[-1]["message"]


async def test_a_failing_job_logs_an_error_and_the_next_run_still_happens(redis_server, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the backup directory should be")
    await run_worker(replace(redis_server, environment={**redis_server.environment, "BACKUP_DIR": str(blocked)}),
                     BACKUP)
    errors = redis_server.database.rows("SELECT * FROM system_logs WHERE event = 'job_failed' ORDER BY id")
    assert errors and errors[-1]["level"] == "ERROR" and "backup_database" in errors[-1]["message"]
    await run_worker(redis_server, BACKUP)
    assert "backup ocpp-backup-" in job_log(redis_server, BACKUP)[-1]["message"]
