"""The RQ worker and its cron scheduler (python worker.py) through a Redis outage: Redis of the test's own
killed and started again empty. Both come back by themselves and the periodic jobs run again; SIGTERM
still stops the worker. (RQ's own worker quits on such an error, and its cron scheduler dies of it.)"""
import asyncio
import signal
import subprocess
import sys

import pytest

from tests.charge_points import eventually
from tests.resilience.outages import LedgerChargePoint, OwnRedis
from tests.servers import ROOT, ScratchDatabase, start_server


@pytest.fixture
def own_redis():
    redis = OwnRedis()
    yield redis
    redis.remove()


def job_runs(database) -> int:
    return database.scalar("SELECT count(*) FROM system_logs WHERE event = 'job' AND message LIKE 'check_heartbeats%'")


async def test_worker_and_scheduler_come_back_after_redis_restarted_empty(own_redis, tmp_path):
    database = ScratchDatabase("sqlite", tmp_path)
    server = start_server(database, tmp_path, REDIS_URL=own_redis.url, HEARTBEAT_CHECK_INTERVAL=1,
                          BACKGROUND_JOBS="true")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=server.environment, stdout=log,
                                  stderr=subprocess.STDOUT)
    charge_point = LedgerChargePoint(server.ws_url, interval=0.1)
    stop = asyncio.Event()
    sending = asyncio.create_task(charge_point.run(stop))
    try:
        await eventually(lambda: job_runs(database) >= 2, 30)
        own_redis.kill()
        await asyncio.sleep(3)  # the worker and the scheduler find Redis gone
        runs_during_outage = job_runs(database)
        await asyncio.to_thread(own_redis.start)
        # (RQ's worker waits for Redis with a backoff of its own, doubling up to a minute)
        await eventually(lambda: job_runs(database) >= runs_during_outage + 3, 60)
        assert worker.poll() is None, log_path.read_text()[-3000:]
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0, log_path.read_text()[-3000:]
        stop.set()
        await sending
        assert charge_point.connections == 1 and charge_point.closes == [], charge_point
        charge_point.assert_ledger_matches(database)
        output = log_path.read_text()
        assert "starts again" in output, output[-3000:]
    finally:
        stop.set()
        await sending
        if worker.poll() is None:
            worker.kill()
        server.stop()
        database.drop()
