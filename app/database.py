"""What the two databases need done differently (SQLite's pragmas, the dialect's INSERT), and how the
process lives through a database that fails: SQLite files it cannot write, PostgreSQL that does not
answer, and whether it can commit at all (readiness).

Everything else speaks SQLAlchemy and does not care which database is behind it.
"""
import functools
import os
import sqlite3
import sys
import time
from pathlib import Path

import gevent
import psycopg2
from flask import Flask, current_app
from gevent import monkey
from gevent.event import Event
from gevent.socket import wait_read, wait_write
from psycopg2 import extensions
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db, psycopg2_autocommit, session_in_transaction
from app.outages import database_unavailable, one_line

# SQLite's primary result codes that say it cannot write the file (or reach it) with this connection.
SQLITE_CANNOT_WRITE = frozenset({8, 10, 14})  # SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN
SQLITE_BUSY = 5
CHECKPOINT_EVERY = 0.25  # seconds (_checkpoint_off_the_hub): 10 to 20 ms each in a storm, measured
# The exit status with which a gunicorn worker says it cannot boot: gunicorn then stops instead of
# starting it again and again (any other status).
WORKER_BOOT_ERROR = 3


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    app.extensions["commit_probe"] = probe = CommitProbe(app)
    event.listen(engine, "handle_error", probe.note_failure)
    if app.config["DATABASE_KIND"] == "sqlite":
        _init_sqlite(app, engine)
    else:
        _bound_postgres_waits(engine, app.config["DB_CONNECT_TIMEOUT"], app.config["DB_STATEMENT_TIMEOUT"])


# --- SQLite ---

def _init_sqlite(app: Flask, engine) -> None:
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    if not path or path == ":memory:":
        return
    # DB_SQLITE_PATH=data/ocpp.db works on a fresh checkout: SQLite creates the file, not its directory.
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    refuse_unwritable(path)
    synchronous = app.config["DB_SQLITE_SYNCHRONOUS"]
    app.extensions["sqlite_reads"] = _sqlite_read_engine(engine.url)  # (no connection until a read)
    _checkpoint_off_the_hub(engine)

    @event.listens_for(engine, "connect")
    def configure_sqlite(dbapi_connection, _record):
        # WAL lets the API read while charge points write; foreign keys are off by default in SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "handle_error")
    def reopen_when_sqlite_cannot_write(context):
        # A connection opened while the file was read-only (or unreachable) stays so: SQLite does not
        # look again. Treated as a lost connection, it is replaced by a new one at the next checkout,
        # which writes again as soon as the file can be written.
        if _sqlite_cannot_write(context.original_exception):
            context.is_disconnect = True
            # The failed cursor holds its statement, and SQLite closes a connection with a statement left
            # only once that is gone (the exception's traceback keeps the cursor until a garbage
            # collection); meanwhile the new connection would share the old one's read-only state.
            cursor = getattr(context, "cursor", None) or getattr(context.execution_context, "cursor", None)
            if cursor is not None:
                cursor.close()
            # So would it share the read pool's: SQLite shares one file's state among a process's
            # connections, and a read connection opened meanwhile keeps it read-only.
            app.extensions["sqlite_reads"].dispose()


def _checkpoint_off_the_hub(engine) -> None:
    """The WAL is written back into the database file by a checkpoint in a thread of gevent's pool, every
    CHECKPOINT_EVERY seconds at most, after a commit; never by the commit itself.

    SQLite checkpoints in the committing connection, in the calling thread, once the WAL passes 1,000
    pages: one such commit of the group commit's writer held the hub for 299 ms (62 ms of it CPU), long
    enough that charge points' heartbeats waited and gevent's monitor thread reported it. sqlite3 lets go
    of the GIL while SQLite works. The checkpoint runs on the committing connection, after its commit and
    before anyone else can use it: no other connection takes SQLite's checkpoint lock meanwhile (a
    checkpointer of its own, tried before, made a commit wait on that lock with the hub held). The
    commits stay on the hub: each one handed to the pool, also tried, cost 20 busy charge points a fifth
    of their answers.
    """
    @event.listens_for(engine, "connect")
    def no_checkpoint_in_commits(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    commit_here = engine.dialect.do_commit
    checkpointed_at = time.monotonic()

    def do_commit(dbapi_connection) -> None:
        nonlocal checkpointed_at
        commit_here(dbapi_connection)
        if time.monotonic() - checkpointed_at >= CHECKPOINT_EVERY:
            _off_the_hub(_checkpoint, dbapi_connection)
            checkpointed_at = time.monotonic()
    engine.dialect.do_commit = do_commit


def _checkpoint(dbapi_connection) -> None:
    # PASSIVE: what readers still need stays in the WAL for the next one; a failure (a full disk) too.
    try:
        dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    except sqlite3.Error:
        pass


def _off_the_hub(function, *args) -> None:
    """function(*args) in a thread of gevent's pool, the calling greenlet waiting for it; in place where
    there is no hub to keep free (a flask command, a test outside the server)."""
    if not monkey.is_module_patched("threading") or _real_thread_ident() != _HUB_THREAD:
        function(*args)
        return
    done = gevent.get_hub().threadpool.spawn(function, *args)
    try:
        done.wait()
    except BaseException:
        # Killed meanwhile: the connection must not go back to the pool (and to another greenlet) while
        # the thread still uses it.
        done.wait()
        raise


# The thread of the hub that serves the process (the main thread; a forked worker's only thread).
_real_thread_ident = monkey.get_original("_thread", "get_ident")
_HUB_THREAD = _real_thread_ident()


def _sqlite_read_engine(url):
    """A pool of its own for read_all's reads on SQLite, with connections that cannot write.

    The one connection of the main pool is held across yields to the hub: by the group commit between
    its slices, by a request through its session. In a reconnect storm thousands of handshakes and
    boots queued behind it for their one-row reads, and the group commit's writer in the same queue
    behind them: batches committed seconds apart, reads that waited past the pool's 30 s. A read here
    runs from checkout to return without a yield (SQLite works in this thread), so it never waits for
    a connection, and under WAL it neither waits for the writer nor holds it up.
    """
    engine = create_engine(url, pool_size=2, max_overflow=0, pool_timeout=30, connect_args={"timeout": 10})

    @event.listens_for(engine, "connect")
    def read_only(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA query_only=ON")
    return engine


def _sqlite_cannot_write(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in SQLITE_CANNOT_WRITE


def refuse_unwritable(path: str) -> None:
    """Exit with one line naming the file when SQLite cannot write it.

    A server on a file it cannot write would come up, say it is healthy and fail every charge point.
    SQLite opens such a file read-only without a word (and even begins a write transaction on it), and
    permissions do not tell (root ignores them; a read-only mount or an immutable file does not): so
    the file is opened for writing, a file is made beside it (SQLite's journal needs the directory),
    and SQLite begins a write.
    """
    try:
        if Path(path).exists():
            os.close(os.open(path, os.O_RDWR))
        connection = sqlite3.connect(path, timeout=10)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.rollback()
        finally:
            connection.close()
    except sqlite3.Error as error:
        if getattr(error, "sqlite_errorcode", 0) & 0xFF != SQLITE_BUSY:  # busy: another process writes it
            _refuse(path, str(error))
    except OSError as error:
        _refuse(path, f"{error.strerror}: {error.filename or Path(path).parent}")


def _refuse(path: str, reason: str) -> None:
    sys.stderr.write(f"configuration error: the SQLite database file {path} cannot be written ({reason})\n")
    raise SystemExit(WORKER_BOOT_ERROR)


# --- PostgreSQL ---

# psycopg2's connection statuses once connected (while connecting it has statuses of its own).
_CONNECTED = frozenset({extensions.STATUS_READY, extensions.STATUS_BEGIN, extensions.STATUS_PREPARED})


class DatabaseTimeout(psycopg2.OperationalError):
    """PostgreSQL did not answer in time; the connection is closed (SQLAlchemy replaces it)."""


def _bound_postgres_waits(engine, connect_timeout: float, statement_timeout: float) -> None:
    """In the server (under gevent), psycopg2 waits for PostgreSQL in a wait callback, where libpq's
    connect_timeout does not apply and nothing bounds a wait for a server that hangs (a stopped process,
    a network that drops packets without a reset). This callback gives up after connect_timeout while
    connecting, and 5 s after PostgreSQL's own statement_timeout for an answer."""
    if extensions.get_wait_callback() is None:
        return  # not the server (a flask command, a migration): no statement_timeout, libpq's own timeouts
    answer_timeout = statement_timeout + 5

    @event.listens_for(engine, "do_connect")
    def limit_statements(_dialect, _record, _args, parameters):
        parameters["options"] = f"{parameters.get('options', '')} -c statement_timeout={round(statement_timeout * 1000)}"

    def wait(connection, timeout=None):
        while True:
            state = connection.poll()
            if state == extensions.POLL_OK:
                return
            seconds = answer_timeout if connection.status in _CONNECTED else connect_timeout
            try:
                if state == extensions.POLL_READ:
                    wait_read(connection.fileno(), timeout=seconds)
                elif state == extensions.POLL_WRITE:
                    wait_write(connection.fileno(), timeout=seconds)
                else:
                    raise psycopg2.OperationalError(f"bad result from poll: {state!r}")
            except TimeoutError:
                # psycopg2 closes the connection when its wait callback fails (it holds the connection's
                # lock here, so that closing it from here would deadlock); closed, it is replaced.
                raise DatabaseTimeout(f"PostgreSQL did not answer within {seconds:g} s") from None
    extensions.set_wait_callback(wait)


# --- readiness ---

class CommitProbe:
    """Whether this process can commit, for /readyz.

    A write that changes nothing (alembic_version set to itself: every deployment has the row) is
    committed in a greenlet of its own, so that readiness answers within `wait` seconds even while
    charge points hold every connection of the pool. When it takes longer, the answer is the state of
    the last commits: ready unless a write failed for want of the database within `recent` seconds.
    """
    PROBE = text("UPDATE alembic_version SET version_num = version_num")

    def __init__(self, app: Flask, wait: float = 0.25, recent: float = 10.0):
        self.app = app
        self.wait = wait
        self.recent = recent
        self._probing: gevent.Greenlet | None = None
        self._unavailable_at = float("-inf")
        self._last_failure = None

    def note_failure(self, context) -> None:
        """SQLAlchemy's handle_error: remember when the database last failed for want of the database."""
        error = context.sqlalchemy_exception or context.original_exception
        if database_unavailable(error) or _sqlite_cannot_write(context.original_exception):
            self._unavailable_at = time.monotonic()
            # Its text, not the exception: its traceback would keep the failed cursor, and with it an
            # SQLite connection that cannot be closed (its read-only shared memory outlives it).
            self._last_failure = one_line(error)

    def problem(self) -> str | None:
        """None when the process can commit; else why not, in a line."""
        if self._probing is None or self._probing.dead:
            self._probing = gevent.spawn(self._probe)
        self._probing.join(self.wait)
        if self._probing.dead:
            return self._probing.value
        if time.monotonic() - self._unavailable_at < self.recent:
            return f"a write failed {time.monotonic() - self._unavailable_at:.0f} s ago: {self._last_failure}"
        return None  # busy, but nothing has failed

    def _probe(self) -> str | None:
        with self.app.app_context():
            for attempt in (1, 2):
                try:
                    db.session.execute(self.PROBE)
                    db.session.commit()
                    return None
                except Exception as error:
                    db.session.rollback()
                    # A connection found dead (or read-only) is replaced: the answer is the new one's.
                    if attempt == 1 and getattr(error, "connection_invalidated", False):
                        continue
                    return one_line(error)
                finally:
                    db.session.remove()


def commit_problem(app: Flask) -> str | None:
    return app.extensions["commit_probe"].problem()


def read_all(statement, parameters: dict) -> list:
    """The rows of a read, on a connection of the pool taken for this read alone.

    For the reads of a storm's hot path (a handshake, a BootNotification): the ORM session would begin a
    transaction with its snapshot, and its commit, for one row; that costs more than the read. Where the
    caller's session already holds a transaction, the read joins it (SQLite's pool has one connection).
    """
    if session_in_transaction():
        return db.session.execute(statement, parameters).all()
    with _read_engine().connect() as connection:
        if connection.dialect.name != "postgresql":
            return connection.execute(statement, parameters).all()
        with psycopg2_autocommit(connection):  # one round trip: no BEGIN, no ROLLBACK afterwards
            return connection.execute(statement, parameters).all()


class ReadTogether:
    """A read by key that greenlets asking at about the same time share: each asks for the rows of its
    key, and the keys asked for before the read starts are read together (`key IN (...)`), one round
    trip for all of them instead of one each.

    For a storm's hot path, where hundreds of greenlets ask at once and the round trip costs more than
    the rows: a refused handshake's check for a running transaction cost 30 % of the refusal alone.
    `statement` selects the key's column as `key` and takes the keys as the expanding parameter `keys`.
    A failed shared read is not shared out: each key is then read alone, so that each caller gets its
    own outcome (and its own exception).
    """
    CHUNK = 500  # keys per query

    def __init__(self, statement):
        self._statement = statement

    def rows(self, key) -> list:
        if not session_in_transaction():  # else the read joins the caller's transaction (see read_all)
            batch = self._batch_to_join()
            batch.keys.add(key)
            batch.done.wait()
            if batch.rows is not None:
                return batch.rows.get(key, [])
        return read_all(self._statement, {"keys": [key]})

    def _batch_to_join(self) -> "_KeyBatch":
        pending = current_app.extensions.setdefault("reads_together", {})
        batch = pending.get(self)
        if batch is None:
            pending[self] = batch = _KeyBatch()
            # Started by a timer, which fires at the event loop's next pass: a greenlet merely spawned would
            # start behind every greenlet runnable before it, in a storm thousands (see group_commit.py).
            gevent.spawn_later(0, self._read, current_app._get_current_object(), batch)
        return batch

    def _read(self, app: Flask, batch: "_KeyBatch") -> None:
        try:
            del app.extensions["reads_together"][self]  # who asks from now on waits for the next read
            with app.app_context():
                keys = list(batch.keys)
                by_key: dict = {}
                for start in range(0, len(keys), self.CHUNK):
                    for row in read_all(self._statement, {"keys": keys[start:start + self.CHUNK]}):
                        by_key.setdefault(row.key, []).append(row)
                batch.rows = by_key
        except Exception:  # noqa: BLE001  (each caller reads alone, and meets the error itself)
            pass
        finally:
            batch.done.set()


class _KeyBatch:
    def __init__(self):
        self.keys: set = set()
        self.rows: dict | None = None  # by key, once read
        self.done = Event()


def _read_engine():
    return current_app.extensions.get("sqlite_reads") or db.engine


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
