"""Fixtures: real servers (gunicorn + gevent) on SQLite and on PostgreSQL, each with its own database;
and the application in this process on the same two backends, for fast tests of the domain services."""
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from tests.servers import ScratchDatabase, drop_templates, require_backend, start_server

BACKENDS = ["sqlite", "postgres"]


@contextmanager
def running_server(backend: str, tmp_path_factory, **settings):
    """A server with `settings` on a fresh database of `backend`, stopped and dropped afterwards."""
    require_backend(backend)
    settings.setdefault("BACKGROUND_JOBS", "false")
    directory = tmp_path_factory.mktemp(f"server-{backend}")
    database = ScratchDatabase(backend, directory)
    server = None
    try:
        server = start_server(database, directory, **settings)
        yield server
    finally:
        if server is not None:
            server.stop()
        database.drop()


@pytest.fixture(scope="session", autouse=True)
def database_templates():
    """The migrated databases the scratch databases are copied from, dropped at the end of the run."""
    yield
    drop_templates()


@pytest.fixture(scope="session")
def keep():
    """keep(key, make) -> what the context manager make() gives, made at the first call with `key` and
    closed at the end of the run. pytest tears a parametrized session fixture down whenever a test wants
    another of its parameters, which in a pytest-xdist process (handed modules in turn) is at nearly every
    module: the session fixtures of each backend keep theirs here instead."""
    with ExitStack() as stack:
        kept = {}

        def get(key, make):
            if key not in kept:
                kept[key] = stack.enter_context(make())
            return kept[key]
        yield get


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    require_backend(request.param)
    return request.param


@pytest.fixture(scope="session")
def server(backend, tmp_path_factory, keep):
    """The server most tests share, with the default settings; tests keep apart by charge point id."""
    return keep(("server", backend), lambda: running_server(backend, tmp_path_factory, OCPP_COMMAND_TIMEOUT=3))


@pytest.fixture
def db(server):
    return server.database


@pytest.fixture
async def api(server):
    """An HTTP client of the shared server's API port."""
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory, keep):
    """create_app() in this process with a test Config, on a migrated scratch database of each backend
    (no server, no Redis): the domain services called directly."""
    require_backend(request.param)
    return keep(("app", request.param), lambda: in_process_app(request.param, tmp_path_factory))


@contextmanager
def in_process_app(kind: str, tmp_path_factory):
    from app import create_app
    from config import Config
    database = ScratchDatabase(kind, tmp_path_factory.mktemp(f"app-{kind}"))
    try:
        flask_app = create_app(Config({"DATABASE_URL": database.url, "BACKGROUND_JOBS": "false",
                                       "LOG_LEVEL": "WARNING"}))
        flask_app.scratch_database = database
        yield flask_app
    finally:
        database.drop()


@pytest.fixture
def in_app(app):
    """An application context of the in-process app (a database session of its own, removed after)."""
    from app.extensions import db as sqlalchemy
    with app.app_context():
        yield app
        sqlalchemy.session.remove()


# Files whose assertions time the server (a storm's health answers within a second, gevent's monitor thread
# seeing no 100 ms stretch, outages and kills with deadlines): `make test` runs them alone, after the rest
# has run in two processes (pytest.ini).
SERIAL = ("tests/scale/", "tests/resilience/", "tests/bench/", "tests/tasks/test_heartbeat_timeout.py",
          "tests/tasks/test_offline_transactions.py", "tests/test_group_commit.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(SERIAL):
            item.add_marker(pytest.mark.serial)
