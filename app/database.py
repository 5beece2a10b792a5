"""What the two databases need done differently: SQLite's pragmas and the dialect's INSERT.

Everything else speaks SQLAlchemy and does not care which database is behind it.
"""
import functools
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def init_app(app: Flask) -> None:
    if app.config["DATABASE_KIND"] != "sqlite":
        return
    # DB_SQLITE_PATH=data/ocpp.db works on a fresh checkout: SQLite creates the file, not its directory.
    Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database).parent.mkdir(parents=True, exist_ok=True)
    synchronous = app.config["DB_SQLITE_SYNCHRONOUS"]
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def configure_sqlite(dbapi_connection, _record):
        # WAL lets the API read while charge points write; foreign keys are off by default in SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def prepared(build):
    """A statement built once per dialect by build(dialect_module), then reused.

    Building a SQLAlchemy statement (and its cache key) costs more than running it on the hot path of
    a charge point's messages; a statement object built once is compiled once. The dialect module
    (sqlalchemy.dialects.postgresql or .sqlite) gives INSERT ... ON CONFLICT, which both databases
    implement with the same interface: it makes writes idempotent, so a retried or concurrent message
    cannot add a row twice.
    """
    statements = {}

    @functools.wraps(build)
    def statement():
        dialect = db.engine.dialect.name  # (not the session's bind: that would make a session per message)
        if dialect not in statements:
            statements[dialect] = build(postgresql if dialect == "postgresql" else sqlite)
        return statements[dialect]
    return statement
