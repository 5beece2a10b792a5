"""Flask extensions, created unbound here and bound to the app in create_app(), the app's Redis client, and
the two helpers every part that talks to the database shares (a session's transaction, psycopg2's autocommit)."""
from contextlib import contextmanager

import click
from flask import Flask
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from redis import Redis
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that migrations can alter them (SQLite's batch mode needs the names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def as_dict(self) -> dict:
        """The stored columns by attribute name: what the API schemas dump, with computed keys added."""
        return {column.key: getattr(self, column.key) for column in self.__mapper__.column_attrs}


db = SQLAlchemy(model_class=Base)
sock = Sock()


def init_migrations(app: Flask, directory: str) -> None:
    """Flask-Migrate (`flask db`; app.extensions["migrate"], which migrations/env.py reads), imported when
    first used: it imports alembic, a tenth of a second of every worker's start-up, which a fleet that
    reconnects after a restart waits for, and which only migrations need."""
    def load() -> click.Group:
        from flask_migrate import Migrate
        from flask_migrate.cli import db as commands
        if isinstance(app.extensions.get("migrate"), _LoadedWhenUsed):
            Migrate(app, db, directory=directory)  # (takes app.extensions["migrate"] and `flask db`)
        return commands
    app.extensions["migrate"] = _LoadedWhenUsed(app, load)
    app.cli.add_command(_CommandsLoadedWhenUsed(load))


class _LoadedWhenUsed:
    """Stands in app.extensions["migrate"] until Flask-Migrate's own takes its place."""

    def __init__(self, app: Flask, load):
        self._app, self._load = app, load

    def __getattr__(self, name: str):
        self._load()
        return getattr(self._app.extensions["migrate"], name)


class _CommandsLoadedWhenUsed(click.Group):
    """`flask db`: its line in `flask --help`; Flask-Migrate's own group parses and runs `flask db ...`."""

    def __init__(self, load):
        super().__init__("db", help="Perform database migrations.")
        self._load = load

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        return self._load().make_context(info_name, args, parent, **extra)


def redis_client(app: Flask) -> Redis:
    """The app's Redis client (REDIS_URL), made once.

    Timeouts, so that a Redis that hangs or a network that drops packets fails a request instead of
    holding it: connecting, and reading an answer (longer than the longest blocking read, a command's
    reply awaited for OCPP_COMMAND_TIMEOUT); TCP keepalive finds a peer that is gone.
    """
    if "redis" not in app.extensions:
        app.extensions["redis"] = new_redis_client(app, socket_timeout=app.config["OCPP_COMMAND_TIMEOUT"] + 10)
    return app.extensions["redis"]


def new_redis_client(app: Flask, socket_timeout: float | None) -> Redis:
    """A Redis client of REDIS_URL; socket_timeout None for a reader that blocks longer (RQ's worker)."""
    options = {"health_check_interval": 30, "socket_connect_timeout": 5, "socket_keepalive": True,
               "socket_timeout": socket_timeout}
    if app.config["REDIS_URL"].startswith("rediss://") and not app.config["REDIS_TLS_VERIFY"]:
        options["ssl_cert_reqs"] = "none"  # Heroku Redis presents a self-signed certificate
    return Redis.from_url(app.config["REDIS_URL"], **options)


@contextmanager
def psycopg2_autocommit(connection):
    """A PostgreSQL connection (SQLAlchemy's) in autocommit for the block: no BEGIN before its first
    statement, no ROLLBACK or COMMIT when it goes back to the pool (psycopg2 sends none outside a
    transaction). psycopg2's own switch rather than SQLAlchemy's isolation_level option: SQLAlchemy sets
    READ COMMITTED again when the connection goes back to the pool, after which psycopg2 sends a SET (a
    round trip) at every switch out of autocommit."""
    dbapi_connection = connection.connection.dbapi_connection
    dbapi_connection.autocommit = True
    try:
        yield
    finally:
        if not dbapi_connection.closed:  # (closed when the query failed for a lost connection)
            dbapi_connection.autocommit = False


def session_in_transaction() -> bool:
    """Whether this context's session holds a transaction, without making a session to find out (that
    would cost more than a heartbeat's own work)."""
    return db.session.registry.has() and db.session().in_transaction()
