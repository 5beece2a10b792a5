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
"""
import logging

import gevent
from flask import Flask, current_app
from gevent import monkey
from gevent.event import AsyncResult
from gevent.queue import Queue

from app.extensions import db

logger = logging.getLogger(__name__)

MAX_BATCH = 500
SQLITE_SLICE = 100  # rows of one statement executed between yields to the hub, on SQLite

Operation = tuple[object, dict]  # (a prepared statement, its parameters)


class GroupCommit:
    def __init__(self, app: Flask):
        self.app = app
        self._waiting: Queue = Queue()
        self._writer: gevent.Greenlet | None = None
        self._committing = 0

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
            batch = [self._waiting.get()]
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
            self._execute([operations for operations, _ in batch])
        except Exception as error:
            db.session.rollback()
            if len(batch) == 1:
                batch[0][1].set_exception(error)
            else:
                logger.warning("a batch of %d messages failed (%r); writing them one by one", len(batch), error)
                for unit in batch:
                    self._commit([unit])
            return
        finally:
            db.session.remove()
        for _, committed in batch:
            committed.set()

    @staticmethod
    def _execute(units: list[list[Operation]]) -> None:
        by_statement: dict[object, list[dict]] = {}
        for operations in units:
            for statement, parameters in operations:
                by_statement.setdefault(statement, []).append(parameters)
        # SQLite works in this thread without letting the hub run: its rows go in slices, with a yield
        # between them, so that no stretch of a big batch holds the process (PostgreSQL's driver yields
        # while it waits for the server).
        sqlite = db.engine.dialect.name == "sqlite"
        for statement, parameter_sets in by_statement.items():
            step = SQLITE_SLICE if sqlite else len(parameter_sets)
            for start in range(0, len(parameter_sets), step):
                if start and monkey.is_module_patched("socket"):
                    gevent.sleep(0)
                db.session.execute(statement, parameter_sets[start:start + step])
        db.session.commit()


def init_app(app: Flask) -> None:
    app.extensions["group_commit"] = GroupCommit(app)


def commit_together(*operations: Operation) -> None:
    """Commit the operations, grouped with other charge points' when running under gevent.

    The caller's session is committed first: the writer may need the connection it holds (SQLite has
    one per process).
    """
    # (Neither a session made nor a transaction begun only to end them: that would cost more than the
    # rest of a heartbeat.)
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()
    if not monkey.is_module_patched("socket"):  # a flask command or a test outside the server
        GroupCommit._execute([list(operations)])
        return
    current_app.extensions["group_commit"].write(list(operations))
