"""The system log: significant events, kept in the database for /api/logs and written to the process log.

Recording an event never raises: when the database itself is what failed, the event still reaches the
process log.
"""
import logging
from datetime import datetime

from sqlalchemy import JSON, bindparam, insert

from app import events
from app.extensions import db
from app.group_commit import commit_session, commit_together
from app.models import SystemLog
from app.outages import FailureLog, database_unavailable
from app.timeutil import utcnow

INFO, WARNING, ERROR = "INFO", "WARNING", "ERROR"
LEVELS = (INFO, WARNING, ERROR)
_MAX_TEXT = 2000

logger = logging.getLogger("app.events")
# During an outage every event fails the same way: a line per interval, not a traceback per event.
_unstored = FailureLog("system log events not stored (they are in the process log): the database is unavailable")


def record(level: str, event: str, message: str, charge_point_id: str | None = None,
           details: dict | None = None) -> None:
    """Store one event, after committing what the session holds; its own commit joins other messages'
    in the group commit.

    Only the event's own failure is swallowed (a log line must not fail what it reports): the caller's
    writes are committed first, outside, and their failure is the caller's (a superseded transaction's
    close must not be answered as done and lost)."""
    commit_session()
    try:
        commit_together((INSERT, entry(level, event, message, charge_point_id, details)))
        _unstored.succeeded()
    except Exception as error:
        db.session.rollback()
        if database_unavailable(error):
            _unstored.failed(error)
        else:
            logger.exception("could not store the event above in the system log")


# A Core INSERT built once: events written with other statements (the group commit, a job's batch)
# need no ORM object and no flush. details=None is stored as SQL NULL, as the ORM stores it.
INSERT = insert(SystemLog.__table__).values(details=bindparam("details_json", type_=JSON(none_as_null=True)))


def entry(level: str, event: str, message: str, charge_point_id: str | None = None, details: dict | None = None,
          at: datetime | None = None) -> dict:
    """One event as INSERT's parameters, written to the process log now; the caller stores it (with
    store_many, or as (INSERT, entry) in app.group_commit.commit_together)."""
    to_process_log(level, event, message, charge_point_id)
    return {"timestamp": at or utcnow(), "level": level, "event": event, "message": truncate(message),
            "charge_point_id": charge_point_id, "details_json": details}


def to_process_log(level: str, event: str, message: str, charge_point_id: str | None = None) -> None:
    """The event in the process log, and to the console's open pages (their live tail)."""
    prefix = f"{charge_point_id}: " if charge_point_id else ""
    logger.log(getattr(logging, level), "%s%s: %s", prefix, event, message)
    events.publish(events.LOG, level=level, event=event, message=truncate(message), charge_point_id=charge_point_id)


def store_many(entries: list[dict]) -> None:
    """Add the entries to the session's transaction in one statement; the caller commits."""
    if entries:
        db.session.execute(INSERT, entries)


def info(event: str, message: str, **context) -> None:
    record(INFO, event, message, **context)


def warning(event: str, message: str, **context) -> None:
    record(WARNING, event, message, **context)


def error(event: str, message: str, **context) -> None:
    record(ERROR, event, message, **context)


def truncate(text: str, limit: int = _MAX_TEXT) -> str:
    """Frames and messages are kept short in the log: a misbehaving charge point must not fill it."""
    if not isinstance(text, str):
        text = repr(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


SECRET_FIELDS = frozenset({"password", "authorizationkey", "authorization"})
SECRET_CONFIGURATION_KEYS = frozenset({"AuthorizationKey"})


def redacted(data):
    """`data` with secrets replaced by "***": password fields, and the value of the AuthorizationKey
    configuration key (ChangeConfiguration, GetConfiguration)."""
    if isinstance(data, list):
        return [redacted(item) for item in data]
    if not isinstance(data, dict):
        return data
    secret_value = isinstance(data.get("key"), str) and data["key"] in SECRET_CONFIGURATION_KEYS
    return {key: "***" if key.lower() in SECRET_FIELDS or (secret_value and key == "value") else redacted(value)
            for key, value in data.items()}
