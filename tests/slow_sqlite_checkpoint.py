"""Run by tests/test_sqlite_checkpoint.py, patched by gevent as the server is: commits whose checkpoint
SQLite makes slow (0.3 s in its progress handler, as a large WAL's would be) while a greenlet ticks every
10 ms; the second checkpoint also fails. Prints what it saw as JSON."""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app import create_app, database  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import IdTag  # noqa: E402
from config import Config  # noqa: E402

real_sleep = monkey.get_original("time", "sleep")
app = create_app(Config({"DATABASE_URL": sys.argv[1]}))
ticks: list[float] = []
checkpoint = database._checkpoint


def tick():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.01)


def commit(tag: str, checkpoint_fails: bool) -> dict:
    checkpoints = []

    def slow_checkpoint(dbapi_connection):
        calls = []

        def progress():  # (SQLite calls it from the thread that runs the checkpoint)
            calls.append(1)
            if len(calls) > 1:
                return 0
            real_sleep(0.3)
            return 1 if checkpoint_fails else 0  # non-zero: SQLite interrupts the statement
        dbapi_connection.set_progress_handler(progress, 1)
        try:
            checkpoint(dbapi_connection)
        finally:
            dbapi_connection.set_progress_handler(None, 1)
        checkpoints.append(len(calls))

    database._checkpoint = slow_checkpoint
    gevent.sleep(database.CHECKPOINT_EVERY)  # the next commit is due to checkpoint
    db.session.add(IdTag(id_tag=tag))
    started = time.monotonic()
    db.session.commit()
    finished = time.monotonic()
    database._checkpoint = checkpoint
    return {"seconds": finished - started, "ticks": sum(started < t < finished for t in ticks),
            "checkpoints": len(checkpoints)}


with app.app_context():
    ticker = gevent.spawn(tick)
    gevent.sleep(0.05)
    seen = {"ok": commit("TAG1", checkpoint_fails=False), "failed": commit("TAG2", checkpoint_fails=True)}
    seen["stored"] = db.session.execute(text("SELECT id_tag FROM id_tags ORDER BY id_tag")).scalars().all()
    db.session.commit()
    seen["autocheckpoint"] = db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar()
    print(json.dumps(seen))
