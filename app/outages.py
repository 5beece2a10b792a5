"""Outages of the database or Redis: which failures mean "unavailable, try again", and a log that says a
repeated failure once per interval with a count, instead of a traceback per message.

During an outage every charge point's every message fails the same way; logging each would fill the
disk that may be what failed. Anything that can fail for every message logs through a FailureLog.
"""
import logging
import time

import gevent
from redis.exceptions import RedisError
from sqlalchemy import exc

from app.extensions import db

logger = logging.getLogger("app.outages")

# Seconds a client is told to wait (Retry-After) before it tries again.
RETRY_AFTER_SECONDS = 10
DATABASE_UNAVAILABLE = "the database is unavailable; try again later"
MESSAGE_BUS_UNAVAILABLE = "the message bus (Redis) is unavailable; try again later"


# SQLite's primary result codes that say "not now" (busy, locked, out of memory, read-only, I/O error,
# disk full, cannot open, locking protocol), not that a statement is wrong (which is also an
# OperationalError in SQLite: "no such table").
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
# PostgreSQL's error classes that say the same: connection exception, insufficient resources (disk
# full), operator intervention (shutdown, statement_timeout), system error; and a read-only transaction
# (a standby, or default_transaction_read_only).
_POSTGRES_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
_POSTGRES_READ_ONLY = "25006"


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached or written now (not that a statement is wrong):
    a server that is down, restarting or hung, a full disk, a read-only file or server, a pool that
    hands out no connection in time."""
    if isinstance(error, exc.TimeoutError):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlite_code = getattr(error.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in _SQLITE_UNAVAILABLE
    postgres_code = getattr(error.orig, "pgcode", None)
    if postgres_code:
        return postgres_code.startswith(_POSTGRES_UNAVAILABLE_CLASSES) or postgres_code == _POSTGRES_READ_ONLY
    # No code from a server: the client failed to reach it (refused, closed, timed out).
    return isinstance(error, (exc.OperationalError, exc.InterfaceError))


def message_bus_unavailable(error: BaseException) -> bool:
    return isinstance(error, RedisError)


class FailureLog:
    """Logs the first failure at once, then at most one line per `interval` seconds with how many failed
    since; and one line when the thing works again. A failure soon after that is counted, not logged at
    once: a write that fails and succeeds in turn (SQLite's on a full disk, where what fits in the WAL's
    pages still goes in) logs no more often than one that keeps failing."""

    def __init__(self, what: str, interval: float = 10.0, log: logging.Logger = logger):
        self.what = what
        self.interval = interval
        self._log = log
        self._logged_at = float("-inf")
        self._unlogged = 0
        self._failing = False

    def failed(self, error: BaseException) -> None:
        self._failing = True
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at < self.interval:
            return
        since = "" if self._logged_at == float("-inf") else f" in the last {now - self._logged_at:.0f} s"
        self._log.warning("%s (%d failure%s%s; logged at most once per %g s): %s", self.what, self._unlogged,
                          "s" if self._unlogged > 1 else "", since, self.interval, one_line(error))
        self._logged_at, self._unlogged = now, 0

    def succeeded(self) -> None:
        if not self._failing:
            return
        self._failing = False
        unlogged = f" ({self._unlogged} more failure{'s' if self._unlogged > 1 else ''} since the last line)"
        self._log.warning("%s: works again%s", self.what, unlogged if self._unlogged else "")
        self._unlogged = 0


def one_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


class Backlog:
    """Writes that failed while the database was unavailable, retried in the background until it takes
    them: what happened during an outage (a charge point's disconnection) is recorded when it ends.

    Keyed, so that a write added again replaces the one waiting; bounded, so that a long outage cannot
    eat the process's memory (beyond `limit` the oldest are dropped, and the log says how many).
    """

    def __init__(self, what: str, retry_every: float = 2.0, limit: int = 100_000):
        self.what = what
        self.retry_every = retry_every
        self.limit = limit
        self._waiting: dict = {}
        self._retrying = None
        self._failures = FailureLog(f"{what}: retried in the background")

    def add(self, app, key, write, error: BaseException) -> None:
        """Retry write() (in an app context of `app`) until it no longer raises."""
        self._failures.failed(error)
        self._waiting.pop(key, None)
        self._waiting[key] = write
        if len(self._waiting) > self.limit:
            del self._waiting[next(iter(self._waiting))]
            logger.warning("%s: more than %d waiting; the oldest is dropped", self.what, self.limit)
        if self._retrying is None or self._retrying.dead:
            self._retrying = gevent.spawn(self._retry, app)

    def _retry(self, app) -> None:
        while self._waiting:
            gevent.sleep(self.retry_every)
            with app.app_context():
                for key in list(self._waiting):
                    write = self._waiting.get(key)
                    try:
                        write()
                    except Exception as error:
                        db.session.rollback()
                        self._failures.failed(error)
                        break  # the database is still away: try again later
                    finally:
                        db.session.remove()
                    if self._waiting.get(key) is write:
                        del self._waiting[key]
                    gevent.sleep(0)
        self._failures.succeeded()
