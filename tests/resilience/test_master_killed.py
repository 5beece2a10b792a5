"""The gunicorn master killed (SIGKILL): its workers find themselves orphaned and shut down as on SIGTERM,
closing every WebSocket with 1001 (going away, so that charge points reconnect elsewhere) and recording
the disconnections, instead of exiting at once with the sockets cut."""
import asyncio
import os
import signal
import time

import pytest

from benchmark import children  # bench/benchmark.py: the worker processes under gunicorn
from tests.charge_points import eventually
from tests.conftest import BACKENDS
from tests.resilience.outages import LedgerChargePoint, OwnRedis
from tests.servers import ScratchDatabase, require_backend, start_server

GOING_AWAY = 1001


def alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_workers_close_with_1001_and_record_when_the_master_is_killed(backend, workers, tmp_path):
    require_backend(backend)
    database = ScratchDatabase(backend, tmp_path)
    redis = OwnRedis() if workers > 1 else None
    settings = {"REDIS_URL": redis.url} if redis else {}
    server = start_server(database, tmp_path, WEB_CONCURRENCY=workers, BACKGROUND_JOBS="false", **settings)
    charge_points = [LedgerChargePoint(server.ws_url, interval=0.1) for _ in range(6)]
    stop = asyncio.Event()
    sending = [asyncio.create_task(charge_point.run(stop)) for charge_point in charge_points]
    worker_pids = []
    try:
        await eventually(lambda: all(len(cp.acknowledged) >= 3 for cp in charge_points), 20)
        worker_pids = children(server.process.pid)
        assert len(worker_pids) == workers
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        await eventually(lambda: all(cp.closes for cp in charge_points), 15)
        stop.set()
        await asyncio.gather(*sending)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in worker_pids):
            assert time.monotonic() < deadline, "an orphaned worker did not exit"
            await asyncio.sleep(0.1)
        for charge_point in charge_points:
            # (With two workers, a charge point closed by one may reconnect to the other before that one
            # notices the master gone: it is closed again, with 1001 again.)
            assert charge_point.closes and set(charge_point.closes) == {GOING_AWAY}
            charge_point.assert_ledger_matches(database)
            assert database.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id",
                                   id=charge_point.charge_point_id) is not None
        assert "the gunicorn master" in server.log() and "is gone: shutting down" in server.log()
    finally:
        stop.set()
        await asyncio.gather(*sending)
        for pid in worker_pids:  # not left behind, should one not exit
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        server.stop()
        database.drop()
        if redis is not None:
            redis.remove()
