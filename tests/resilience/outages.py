"""The real parts that fail in these tests, and a charge point that lives through their failures.

- OwnPostgres: a PostgreSQL server of the test's own (initdb in a temporary directory), stopped and
  started during a session.
- OwnRedis: a Redis server of the test's own, killed and started again empty.
- read_only(directory): a read-only bind mount over a directory (the tests run as root, for whom file
  permissions stop nothing); small_disk(directory): a small tmpfs there, to fill.
- LedgerChargePoint: a charge point that keeps sending MeterValues of one transaction and sends each
  again until it is acknowledged, as OCPP 1.6 charge points queue transaction messages; its ledger is
  what the central system acknowledged.
"""
import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from glob import glob
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text

from tests.charge_points import SimulatedChargePoint, new_id, timestamp
from tests.servers import DatabaseReader, free_port

PG_BIN = sorted(glob("/usr/lib/postgresql/*/bin"))[-1] if glob("/usr/lib/postgresql/*/bin") else None


def _as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root.
    return ["runuser", "-u", "postgres", "--"] + command if os.geteuid() == 0 else command


class OwnPostgres:
    """A PostgreSQL server for one test, on a free port; fsync off, so that it starts in a second."""

    def __init__(self):
        if PG_BIN is None or shutil.which("runuser") is None:
            pytest.skip("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are not installed")
        self.directory = Path(tempfile.mkdtemp(prefix="ocpp-own-pg-"))
        os.chmod(self.directory, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        subprocess.run(_as_postgres([f"{PG_BIN}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                                     "--no-sync", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
        self._start_on_a_free_port()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/ocpp"
        engine = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres",
                               isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("CREATE DATABASE ocpp"))
        engine.dispose()

    def _start_on_a_free_port(self, tries: int = 5) -> None:
        # A port free when chosen may be taken before the server binds it (other servers of the suite
        # start on free ports too): then another one.
        for attempt in range(tries):
            self.port = free_port()
            try:
                self.start()
                return
            except subprocess.CalledProcessError:
                if attempt == tries - 1 or "Address already in use" not in (self.directory / "log").read_text():
                    raise

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off " \
                  "-c full_page_writes=off -c shared_buffers=16MB"
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-o", options, "-l",
                                     str(self.directory / "log"), "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, timeout=90)

    def stop(self) -> None:
        """Stop at once (fast: the server's connections are cut, as a crash or a failover cuts them)."""
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                       check=True, capture_output=True, timeout=90)

    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def remove(self) -> None:
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=90)
        shutil.rmtree(self.directory, ignore_errors=True)


class Database(DatabaseReader):
    """The database of a server of the test's own (pre-pinged: that server is stopped and started)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=True)

    def drop(self) -> None:
        self.engine.dispose()


class OwnRedis:
    """A Redis server for one test that keeps nothing on disk: killed and started again, it is empty."""

    def __init__(self):
        self.directory = Path(tempfile.mkdtemp(prefix="ocpp-own-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_timeout=5)

    def remove(self) -> None:
        if self.process.poll() is None:
            self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def read_only(directory: Path):
    """`directory` read-only for the block (a read-only bind mount over it), writable again afterwards."""
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(directory)], check=True)
        yield
    finally:
        # Lazily: files opened through the mount keep it; everything opened afterwards is writable.
        subprocess.run(["umount", "-l", str(directory)], check=True)


def can_mount() -> bool:
    probe = Path(tempfile.mkdtemp(prefix="ocpp-mount-probe-"))
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                              capture_output=True).returncode == 0 and \
            subprocess.run(["umount", str(probe)]).returncode == 0
    finally:
        probe.rmdir()


def require_mount() -> None:
    if not can_mount():
        pytest.skip("mounting is not allowed here (read-only and full-disk tests need a mount)")


@contextmanager
def small_disk(megabytes: int):
    """A directory on a tmpfs of `megabytes`, unmounted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="ocpp-small-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)])
        directory.rmdir()


def fill(directory: Path) -> Path:
    """Write a file until the disk is full; the file (delete it to free the disk)."""
    filler = directory / "filler"
    # Unbuffered: a buffered file's close() would flush what the failed write left over, and fail again.
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


@dataclass
class LedgerChargePoint:
    """Keeps sending MeterValues of one transaction; each is sent again until acknowledged."""
    ws_url: str
    charge_point_id: str = field(default_factory=new_id)
    interval: float = 0.05
    acknowledged: list[int] = field(default_factory=list)  # the meter readings acknowledged, in Wh
    transaction_id: int | None = None
    call_errors: int = 0          # CALLERRORs (or no answer) received: sent again
    refusals: list = field(default_factory=list)  # (HTTP status, Retry-After) of refused handshakes
    closes: list = field(default_factory=list)    # close codes of connections that ended under it
    connections: int = 0
    sent_during: dict = field(default_factory=dict)  # label -> acknowledged count when it was set
    _reading: int = 10
    _started_at: str = field(default_factory=timestamp)
    _base: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    async def run(self, stop: asyncio.Event) -> None:
        """Connect (again, after a refusal or a close), start the transaction, send until `stop`."""
        while not stop.is_set():
            try:
                async with websockets.connect(f"{self.ws_url}/{self.charge_point_id}", subprotocols=["ocpp1.6"],
                                              open_timeout=5, close_timeout=2) as connection:
                    self.connections += 1
                    charge_point = SimulatedChargePoint(self.charge_point_id, connection, response_timeout=5)
                    listening = asyncio.create_task(charge_point.start())
                    try:
                        await self._send_until(charge_point, stop)
                    except websockets.ConnectionClosed:
                        self.closes.append(connection.close_code)
                    finally:
                        listening.cancel()
            except websockets.InvalidStatus as refusal:
                self.refusals.append((refusal.response.status_code, refusal.response.headers.get("Retry-After")))
                await asyncio.sleep(0.1)
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake):
                await asyncio.sleep(0.1)

    async def _send_until(self, charge_point, stop: asyncio.Event) -> None:
        if self.transaction_id is None:
            started = await self._acknowledged(charge_point, call.StartTransaction(
                connector_id=1, id_tag="LEDGER", meter_start=0, timestamp=self._started_at))
            if started is None:
                return
            self.transaction_id = started.transaction_id
        while not stop.is_set():
            reading = self._reading
            moment = (self._base + timedelta(milliseconds=reading)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if await self._acknowledged(charge_point, call.MeterValues(
                    connector_id=1, transaction_id=self.transaction_id,
                    meter_value=[{"timestamp": moment, "sampledValue": [{"value": str(reading)}]}])) is not None:
                self.acknowledged.append(reading)
                self._reading += 10
            await asyncio.sleep(self.interval)

    async def _acknowledged(self, charge_point, payload):
        try:
            result = await charge_point.call(payload)
        except asyncio.TimeoutError:
            result = None
        if result is None:
            self.call_errors += 1
        return result

    def assert_ledger_matches(self, database) -> None:
        """Nothing acknowledged is missing from the database, and nothing is there twice."""
        assert self.transaction_id is not None and self.acknowledged, "the charge point got nothing acknowledged"
        assert database.scalar("SELECT count(*) FROM transactions WHERE charge_point_id = :id",
                               id=self.charge_point_id) == 1
        stored = [int(float(row["value"])) for row in database.rows(
            "SELECT value FROM meter_values WHERE transaction_id = :t ORDER BY timestamp", t=self.transaction_id)]
        assert len(stored) == len(set(stored)), "a meter value is stored twice"
        # Everything acknowledged, and beyond it at most the reading in flight when sending ended (stored,
        # its answer lost with the connection: the charge point would send it again).
        assert stored in (self.acknowledged, self.acknowledged + [self._reading]), (stored, self.acknowledged)
