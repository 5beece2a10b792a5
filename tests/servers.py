"""Real servers for the tests: gunicorn with the gevent worker, started as `make run` starts it, on free
ports, each on a database of its own (a SQLite file, or a PostgreSQL database made for it)."""
import asyncio
import itertools
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
POSTGRES_REQUIRED = os.environ.get("OCPP_TEST_REQUIRE_POSTGRES") == "1"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_REQUIRED = os.environ.get("OCPP_TEST_REQUIRE_REDIS") == "1"

# pytest-xdist runs the suite in several processes (pytest.ini): each takes its own share of the Redis
# databases and of the listening ports, so that no two hand out the same one.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 7:
    raise RuntimeError(f"{_WORKERS} pytest-xdist workers: at most 7 share Redis's 15 databases (two each at least)")
_redis_databases = itertools.cycle(range(1 + _WORKER, 16, _WORKERS))

# Listening ports come from below the kernel's ephemeral range (32768-60999 on Linux), where the suite's
# thousands of outgoing connections take their local ports: a port found free there may be taken by a
# client before the server binds it.
_LISTENING_PORTS = range(20000 + _WORKER, 32000, _WORKERS)


def free_port() -> int:
    for _ in range(100):
        port = random.choice(_LISTENING_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_LISTENING_PORTS}")


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout} s")


class DatabaseReader:
    """What the tests ask of a server's database: a value, rows, a statement of their own."""

    engine: Engine
    migrated = False  # whether the migrations have run on it: a server started on it runs them first

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params).mappings())

    def execute(self, sql: str, **params) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)


class ScratchDatabase(DatabaseReader):
    """A database for one server, dropped afterwards: a copy of the migrated template of its kind, or
    (`migrated=False`) created empty."""

    def __init__(self, kind: str, directory: Path, migrated: bool = True):
        self.kind = kind
        self.migrated = migrated
        if kind == "sqlite":
            path = directory / f"ocpp-{uuid.uuid4().hex[:8]}.db"
            if migrated:
                shutil.copyfile(migrated_template(kind), path)
            self.url = f"sqlite:///{path}"
        else:
            self.name = f"ocpp_test_{uuid.uuid4().hex[:12]}"
            template = f' TEMPLATE "{migrated_template(kind)}"' if migrated else ""
            with _postgres_admin() as admin:
                admin.execute(text(f'CREATE DATABASE "{self.name}"{template}'))
            self.url = _postgres_url(self.name)
        self.engine: Engine = create_engine(self.url)

    def drop(self) -> None:
        self.engine.dispose()
        if self.kind == "postgres":
            _drop_postgres(self.name)


# Per backend, a database that `flask db upgrade` migrated once in this process: each ScratchDatabase
# starts as a copy of it (a file copy, or CREATE DATABASE ... TEMPLATE: milliseconds, where migrating
# costs a Python process and seconds). tests/test_migrations.py migrates empty databases itself.
_templates: dict[str, str] = {}  # kind -> the template's SQLite file, or its PostgreSQL database's name


def migrated_template(kind: str) -> str:
    if kind not in _templates:
        _templates[kind] = _sqlite_template() if kind == "sqlite" else _postgres_template()
    return _templates[kind]


def _sqlite_template() -> str:
    path = Path(tempfile.mkdtemp(prefix="ocpp-template-")) / "template.db"
    migrate(server_environment(f"sqlite:///{path}"))
    # The migrating process closed its connections, which leaves everything in the file, nothing in a WAL.
    assert not path.with_name(path.name + "-wal").exists()
    return str(path)


def _postgres_template() -> str:
    name = f"ocpp_template_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as admin:
        admin.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        migrate(server_environment(_postgres_url(name)))
    except Exception:
        _drop_postgres(name)
        raise
    return name


def drop_templates() -> None:
    """At the end of the run: the templates made (none if no test needed one)."""
    while _templates:
        kind, template = _templates.popitem()
        if kind == "sqlite":
            shutil.rmtree(Path(template).parent, ignore_errors=True)
        else:
            _drop_postgres(template)


def _postgres_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_postgres(name: str) -> None:
    with _postgres_admin() as admin:
        admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _postgres_admin():
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def postgres_available() -> bool:
    try:
        with _postgres_admin() as admin:
            admin.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def require_backend(kind: str) -> None:
    """Skip PostgreSQL tests with a clear message where none runs; in CI its absence is a failure."""
    if kind == "postgres" and not postgres_available():
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}"
        if POSTGRES_REQUIRED:
            pytest.fail(message + " (OCPP_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(message)


def redis_available() -> bool:
    try:
        return Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except RedisError:
        return False


def require_redis() -> None:
    if not redis_available():
        message = f"Redis is not reachable at {REDIS_URL}"
        if REDIS_REQUIRED:
            pytest.fail(message + " (OCPP_TEST_REQUIRE_REDIS=1)")
        pytest.skip(message)


def fresh_redis_url() -> str:
    """A Redis database (1 to 15, in turn: this worker's share) emptied for one server; database 0 is left
    alone."""
    require_redis()
    url = f"{REDIS_URL}/{next(_redis_databases)}"
    Redis.from_url(url).flushdb()
    return url


def server_environment(database_url: str, **overrides) -> dict:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("OCPP_", "DB_", "REDIS_", "API_", "BACKUP_"))
                   and key not in ("PORT", "DATABASE_URL", "WEB_CONCURRENCY")}
    environment.update(FLASK_APP="wsgi", DATABASE_URL=database_url, OCPP_HOST="127.0.0.1",
                       LOG_LEVEL="INFO", PYTHONUNBUFFERED="1", GEVENT_MONITOR_THREAD_ENABLE="true", GEVENT_MAX_BLOCKING_TIME="0.1", PYTHONWARNINGS="ignore:Unable to monitor memory usage")
    environment.update({key: str(value) for key, value in overrides.items()})
    return environment


def migrate(environment: dict) -> None:
    result = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class RunningServer:
    database: DatabaseReader
    websocket_port: int
    api_port: int
    process: subprocess.Popen
    log_path: Path
    environment: dict = field(repr=False)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.websocket_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(database: DatabaseReader, directory: Path, **settings) -> RunningServer:
    """Migrate the database (unless it is a migrated copy already), then start gunicorn exactly as `make run`
    does (gunicorn.conf.py)."""
    websocket_port = int(settings.pop("OCPP_WEBSOCKET_PORT", 0)) or free_port()
    api_port = int(settings.pop("OCPP_API_PORT", 0)) or free_port()
    settings.setdefault("BACKUP_DIR", directory / "backups")
    environment = server_environment(database.url, OCPP_WEBSOCKET_PORT=websocket_port,
                                     OCPP_API_PORT=api_port, **settings)
    if not database.migrated:
        migrate(environment)
        database.migrated = True
    log_path = directory / f"server-{websocket_port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                                   env=environment, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(database, websocket_port, api_port, process, log_path, environment)
    try:
        wait_for_port(api_port, process)
        wait_for_port(websocket_port, process)
        wait_for_an_answer(server)
    except RuntimeError as error:
        server.stop()
        raise RuntimeError(f"{error}\n--- server log ---\n{server.log()}") from None
    return server


def wait_for_an_answer(server: RunningServer, timeout: float = 60.0) -> None:
    """gunicorn listens before its worker has imported the application (seconds on a busy machine): until
    then a request waits, past an HTTP client's default timeout. Any answer means a worker serves."""
    scheme = "https" if server.environment.get("OCPP_USE_TLS") == "true" else "http"
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}")
        try:
            httpx.get(f"{scheme}://127.0.0.1:{server.api_port}/healthz", verify=False, timeout=5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer on {server.api_port} within {timeout} s") from None
            time.sleep(0.05)


async def run_worker(server: RunningServer, *jobs: str | tuple[str, dict]) -> str:
    """Enqueue the jobs (dotted function paths, or (path, keyword arguments)) and run `python worker.py
    --burst` against the server's database and Redis; the worker's output. Asynchronous, so that charge
    points keep answering."""
    from rq import Queue
    from app.tasks.schedule import QUEUE
    queue = Queue(QUEUE, connection=Redis.from_url(server.environment["REDIS_URL"]))
    for job in jobs:
        path, arguments = job if isinstance(job, tuple) else (job, {})
        queue.enqueue(path, kwargs=arguments)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", "--burst", cwd=ROOT, env=server.environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()
    return output.decode()
