"""What the two databases need done differently: SQLite's pragmas and the dialect's INSERT.

Everything else speaks SQLAlchemy and does not care which database is behind it.
"""
from flask import Flask
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def init_app(app: Flask) -> None:
    if app.config["DATABASE_KIND"] != "sqlite":
        return
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


def insert(table):
    """INSERT for the session's dialect, with on_conflict_do_nothing() / on_conflict_do_update().

    Both SQLite and PostgreSQL implement INSERT ... ON CONFLICT with the same SQLAlchemy interface:
    it makes writes idempotent, so a retried or concurrent message cannot add a row twice.
    """
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)
