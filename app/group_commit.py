"""Group commit: the writes of many charge points' messages committed in one transaction.

The messages that make most of the traffic (Heartbeat, StatusNotification, MeterValues) only write.
Each handler hands its writes over and waits; one writer greenlet per process takes everything that
is waiting, runs each statement once for all of them (executemany) and commits once. A message is
still answered only after its writes are committed, so nothing acknowledged can be lost; under load,
the batch grows by itself while the previous one commits, and a round trip and an fsync serve
hundreds of messages instead of one.

The statements must be idempotent and independent of their order within a statement (upserts,
INSERT ... ON CONFLICT, last-write-wins updates of one row per charge point): a failed batch is
retried one message at a time, so that one bad message fails alone.

On PostgreSQL a batch is one round trip: its statements, their parameters interpolated by psycopg2,
go as one query string, which PostgreSQL runs as one transaction (no BEGIN, no exchange per statement,
no COMMIT). On SQLite there are no round trips to save; its rows go in slices instead.
"""
import functools
import logging
import time
import weakref

import gevent
from flask import Flask, current_app
from gevent import monkey
from gevent.event import AsyncResult
from gevent.queue import Queue
from psycopg2 import extensions as psycopg2_extensions
from sqlalchemy import Insert, event
from sqlalchemy.dialects.postgresql.dml import OnConflictDoNothing, OnConflictDoUpdate

from app.extensions import db, psycopg2_autocommit, session_in_transaction
from app.outages import FailureLog, database_unavailable
from app.timeutil import RateMeter

logger = logging.getLogger(__name__)

MAX_BATCH = 500
SQLITE_SLICE = 100  # rows of one statement executed at once, on SQLite (a few milliseconds)
WRITER_STRETCH = 0.02  # seconds of SQLite work after which a batch yields to the hub before its next slice
# The writer yields on a timer, not with sleep(0): sleep(0) queues it behind every callback queued
# before it, which in a storm is thousands of greenlets just accepted or woken (the writer waited 150 ms
# to seconds after each yield, measured in a 19,000 storm); a timer fires at the event loop's next pass
# (21 ms on average in the same storm).
YIELD_SECONDS = 0.001
# Messages committed a second, assumed until measured (admission control's estimate of when the
# messages waiting now will be through: app/ocpp/admission.py).
ASSUMED_COMMITS_PER_SECOND = 3000.0

Operation = tuple[object, dict]  # (a prepared statement, its parameters)

# During an outage every batch fails; its messages are still tried one at a time (a batch may have
# failed on a connection the pool had kept from before a restart, and then they succeed).
_unavailable = FailureLog("group commit: batches failed, the database is unavailable; their messages are "
                          "tried one at a time")


class GroupCommit:
    def __init__(self, app: Flask):
        self.app = app
        self._waiting: Queue = Queue()
        self._writer: gevent.Greenlet | None = None
        self._committing = 0
        self.committed = RateMeter(ASSUMED_COMMITS_PER_SECOND)  # messages a second (admission control's)

    @property
    def pending(self) -> int:
        """Messages waiting for their commit (the one under way included)."""
        return self._waiting.qsize() + self._committing

    def write(self, operations: list[Operation]) -> None:
        """Commit the operations (with whatever else is waiting); raises what the database raised."""
        if self._writer is None:
            self._writer = gevent.spawn(self._write_forever)
        committed = AsyncResult()
        self._waiting.put((operations, committed))
        committed.get()

    def _write_forever(self) -> None:
        while True:
            if self._waiting.empty():
                first = self._waiting.get()  # the hub runs meanwhile
                _stretch.restart()
            else:
                _stretch.yield_if_long()  # batch after batch would hold the hub as long as messages wait
                first = self._waiting.get_nowait()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            self._committing = len(batch)
            try:
                with self.app.app_context():
                    self._commit(batch)
            finally:
                self._committing = 0

    def _commit(self, batch: list) -> None:
        try:
            execute([operations for operations, _ in batch])
        except Exception as error:
            db.session.rollback()
            if len(batch) == 1:
                batch[0][1].set_exception(error)
            else:
                _note_failed_batch(len(batch), error)
                for unit in batch:
                    self._commit([unit])
            return
        finally:
            db.session.remove()
        _unavailable.succeeded()
        self.committed.add(len(batch))
        for _, committed in batch:
            committed.set()


def _note_failed_batch(size: int, error: Exception) -> None:
    if database_unavailable(error):
        _unavailable.failed(error)
    else:
        logger.warning("a batch of %d messages failed (%r); writing them one by one", size, error)


def execute(units: list[list[Operation]]) -> None:
    """Run each statement once for all the units' parameters, and commit; raises what the database raised."""
    by_statement: dict[object, list[dict]] = {}
    for operations in units:
        for statement, parameters in operations:
            by_statement.setdefault(statement, []).append(parameters)
    if not by_statement:
        return
    if db.engine.dialect.name == "postgresql":
        _in_one_round_trip(by_statement)
    else:
        _in_slices(by_statement)


class _Stretch:
    """How long the writer has held the hub on SQLite, which works in this thread without letting it run."""

    def __init__(self):
        self._since = time.perf_counter()

    def restart(self) -> None:
        self._since = time.perf_counter()

    def yield_if_long(self) -> None:
        if time.perf_counter() - self._since > WRITER_STRETCH and monkey.is_module_patched("socket"):
            gevent.sleep(YIELD_SECONDS)
            self._since = time.perf_counter()


_stretch = _Stretch()


def _in_slices(by_statement: dict[object, list[dict]]) -> None:
    # SQLite's rows go in slices, and once the writer has held the hub for WRITER_STRETCH it yields
    # before the next slice (before the commit, before the next batch), so that no stretch holds the
    # process. Not after every slice: a yield puts the writer behind every greenlet runnable at that
    # moment, in a storm thousands, and a writer that yielded at each of its slices committed a fraction
    # of what the charge points sent.
    for statement, parameter_sets in by_statement.items():
        for start in range(0, len(parameter_sets), SQLITE_SLICE):
            _stretch.yield_if_long()
            db.session.execute(statement, parameter_sets[start:start + SQLITE_SLICE])
    _stretch.yield_if_long()
    db.session.commit()


# --- PostgreSQL: a batch in one round trip ---

_RENDER_INTO = "group_commit_render_into"  # an execution option: the list that takes the rendered SQL


def _in_one_round_trip(by_statement: dict[object, list[dict]]) -> None:
    """SQLAlchemy prepares each statement as for executemany (bind processing; a plain INSERT's rows in
    one multi-row VALUES, an upsert's too where they can go together: _one_values_list; any other
    statement once per row), psycopg2 interpolates the parameters
    client-side (mogrify, as its own execute_batch does), and the statements go as one query string in
    autocommit: PostgreSQL runs a query string of several statements as one transaction, all or nothing.
    The query is sent through SQLAlchemy, so that its failures are SQLAlchemy's exceptions, as
    everywhere else (app/outages.py)."""
    rendered: list[str] = []
    with db.engine.connect() as connection:
        for statement, parameter_sets in by_statement.items():
            connection.execute(_inline(statement), parameter_sets, execution_options={_RENDER_INTO: rendered})
        with psycopg2_autocommit(connection):
            # (no_parameters: psycopg2 would take the percent signs of the values for placeholders)
            connection.exec_driver_sql(";\n".join(rendered), execution_options={"no_parameters": True})


_inline_inserts: "weakref.WeakKeyDictionary[Insert, Insert]" = weakref.WeakKeyDictionary()


def _inline(statement):
    """An INSERT without the RETURNING of its new primary key that SQLAlchemy adds to a single row's
    INSERT (it would want to read the returned row of a statement that is rendered, not executed),
    and with its SQL defaults in the statement instead of fetched beforehand."""
    if not isinstance(statement, Insert):
        return statement
    if statement not in _inline_inserts:
        _inline_inserts[statement] = statement.inline()
    return _inline_inserts[statement]


def _render(cursor, statement, parameters, context) -> bool:
    """SQLAlchemy's do_execute event: a statement of a batch is rendered, not executed (True says so)."""
    return _render_many(cursor, statement, [parameters], context)


def _render_many(cursor, statement, parameter_sets, context) -> bool:
    rendered = context.execution_options.get(_RENDER_INTO) if context is not None else None
    if rendered is None:
        return False
    encoding = psycopg2_extensions.encodings[cursor.connection.encoding]
    one_list = _one_values_list(statement, getattr(context.compiled, "statement", None), parameter_sets)
    if one_list is None:
        rendered.extend(cursor.mogrify(statement, parameters).decode(encoding) for parameters in parameter_sets)
    else:
        head, row, tail = one_list
        rows = b", ".join(cursor.mogrify(row, parameters) for parameters in parameter_sets)
        rendered.append(head + rows.decode(encoding) + tail)
    return True


def _one_values_list(sql: str, statement, parameter_sets: list[dict]) -> tuple[str, str, str] | None:
    """(head, row, tail) of an INSERT ... ON CONFLICT whose rows can go in one VALUES list, else None.

    SQLAlchemy renders a statement per row for an upsert (its multi-row VALUES leaves them out: two rows
    of one key in one INSERT ... ON CONFLICT DO UPDATE fail), and PostgreSQL parses and plans each: with
    100 busy charge points, 190 us of its CPU per message, 105 us with the rows together (a MeterValues
    has a row per sample). DO NOTHING takes a repeated key in one list (the second row is the conflict),
    DO UPDATE only keys that differ, which is the common case (one message in flight per charge point);
    a batch with a repeated key keeps a statement per row.
    """
    if len(parameter_sets) < 2 or not isinstance(statement, Insert):
        return None
    conflict = statement._post_values_clause  # (SQLAlchemy's own name for the ON CONFLICT clause)
    if isinstance(conflict, OnConflictDoUpdate):
        keys = [getattr(element, "key", element) for element in conflict.inferred_target_elements]
        if not keys or any(key not in parameter_sets[0] for key in keys):
            return None
        if len({tuple(parameters[key] for key in keys) for parameters in parameter_sets}) < len(parameter_sets):
            return None
    elif not isinstance(conflict, OnConflictDoNothing):
        return None  # a plain INSERT: SQLAlchemy makes its rows one statement itself
    return _split_at_values(sql)


@functools.lru_cache(maxsize=256)
def _split_at_values(sql: str) -> tuple[str, str, str] | None:
    """An INSERT's text cut around its row of placeholders: 'INSERT ... VALUES ', '(...)', ' ON CONFLICT ...'."""
    start = sql.find(" VALUES (")
    if start < 0:
        return None
    row_at = start + len(" VALUES ")
    depth = 0
    for end in range(row_at, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            head, row, tail = sql[:row_at], sql[row_at:end + 1], sql[end + 1:]
            # An escaped percent sign outside the row would go to PostgreSQL doubled (only the row is mogrified).
            return None if "%" in head + tail else (head, row, tail)
    return None


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    app.extensions["group_commit"] = GroupCommit(app)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "do_execute", _render)
        event.listen(engine, "do_executemany", _render_many)


def commit_together(*operations: Operation) -> None:
    """Commit the operations, grouped with other charge points' when running under gevent.

    The caller's session is committed first: the writer may need the connection it holds (SQLite has
    one per process).
    """
    commit_session()
    if not monkey.is_module_patched("socket"):  # a flask command or a test outside the server
        execute([list(operations)])
        return
    current_app.extensions["group_commit"].write(list(operations))


def commit_session() -> None:
    """Commit what this context's session holds, if it holds anything."""
    if session_in_transaction():
        db.session.commit()
