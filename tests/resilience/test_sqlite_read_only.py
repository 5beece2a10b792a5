"""An SQLite database file that cannot be written (a read-only mount: the tests run as root, whom file
permissions do not stop). A server refuses to start on it with one line naming the file; a server
whose file becomes read-only answers handshakes 503 and says it is not ready, and once the file can be
written again it writes again, without a restart: the connection SQLite opened read-only is reopened."""
import asyncio
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.charge_points import eventually
from tests.resilience.outages import LedgerChargePoint, OwnRedis, read_only, require_mount
from tests.servers import ROOT, ScratchDatabase, free_port, server_environment, start_server


@pytest.fixture
def sqlite_database(tmp_path):
    require_mount()
    directory = tmp_path / "data"
    directory.mkdir()
    database = ScratchDatabase("sqlite", directory)
    yield database, directory
    database.drop()


@contextmanager
def immutable(path: str):
    """The file immutable for the block (chattr +i): SQLite opens it read-only without a word."""
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", path]).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", path], check=True)


@pytest.mark.parametrize("how", ["read-only mount", "immutable file"])
def test_a_server_refuses_to_start_on_a_file_it_cannot_write(how, sqlite_database, tmp_path):
    database, directory = sqlite_database
    environment = server_environment(database.url, OCPP_WEBSOCKET_PORT=free_port(), OCPP_API_PORT=free_port())
    path = make_url(database.url).database
    with read_only(directory) if how == "read-only mount" else immutable(path):
        result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                                env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    refusals = [line for line in result.stderr.splitlines() if line.startswith("configuration error:")]
    assert len(refusals) == 1 and refusals[0].startswith(
        f"configuration error: the SQLite database file {path} cannot be written ("), result.stderr
    assert "Worker failed to boot" in result.stderr  # gunicorn stops instead of starting it again
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_file_read_only_under_a_running_server_then_writable_again(workers, sqlite_database, tmp_path):
    database, directory = sqlite_database
    redis = OwnRedis() if workers > 1 else None
    server = start_server(database, tmp_path, BACKGROUND_JOBS="false", WEB_CONCURRENCY=workers,
                          **({"REDIS_URL": redis.url} if redis else {}))
    async with httpx.AsyncClient(base_url=server.api_url, timeout=10) as api:  # the workers have booted
        for _ in range(workers * 5):
            assert (await api.get("/healthz", headers={"Connection": "close"})).status_code == 200
    # Another process has the file open (as `sqlite3` or a backup would), so that SQLite can open it
    # read-only through the read-only mount: its shared-memory file exists.
    other = sqlite3.connect(make_url(database.url).database)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("SELECT count(*) FROM charge_points").fetchall()
    charge_point = LedgerChargePoint(server.ws_url)
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(base_url=server.api_url, timeout=10) as api:
            with read_only(directory):
                sending = asyncio.create_task(charge_point.run(stop))
                await eventually(lambda: len(charge_point.refusals) >= 3, 15)
                assert {status for status, _ in charge_point.refusals} == {503}
                assert all(int(retry_after) > 0 for _, retry_after in charge_point.refusals)
                ready = await api.get("/readyz")
                assert ready.status_code == 503 and "readonly" in ready.json()["problems"]["database"]
                assert (await api.get("/healthz")).status_code == 200
            # Writable again: the charge point connects and what it sends is kept.
            await eventually(lambda: len(charge_point.acknowledged) >= 5, 15)
            ready = await api.get("/readyz")
            assert ready.status_code == 200, ready.text
        stop.set()
        await sending
        assert charge_point.connections == 1 and charge_point.closes == []
        charge_point.assert_ledger_matches(database)
        log = server.log()
        assert "Exception on" not in log
        assert log.count("handshakes answered 503: the database is unavailable (") <= 2 * workers
    finally:
        stop.set()
        other.close()
        server.stop()
        if redis is not None:
            redis.remove()
