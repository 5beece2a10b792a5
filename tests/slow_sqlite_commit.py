"""Run by tests/test_sqlite_commit_thread.py, patched by gevent as the server is: two commits that SQLite
makes slow (0.3 s in its progress handler, as a checkpoint's writes would be), the second of them failing,
while a greenlet ticks every 10 ms. Prints what it saw as JSON."""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import IdTag  # noqa: E402
from config import Config  # noqa: E402

real_sleep = monkey.get_original("time", "sleep")
app = create_app(Config({"DATABASE_URL": sys.argv[1]}))
ticks: list[float] = []


def tick():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.01)


def commit(outcome_of_progress: int) -> dict:
    calls = []

    def progress():  # (SQLite calls it from the thread that runs the COMMIT)
        calls.append(1)
        if len(calls) > 1:
            return 0
        real_sleep(0.3)
        return outcome_of_progress  # non-zero: SQLite interrupts the COMMIT

    @event.listens_for(db.engine, "commit", once=True)
    def slow(connection):
        connection.connection.dbapi_connection.set_progress_handler(progress, 1)
    db.session.add(IdTag(id_tag=f"TAG{outcome_of_progress}"))
    started = time.monotonic()
    error = None
    try:
        db.session.commit()
    except Exception as failure:
        error = f"{type(failure).__module__}.{type(failure).__name__}"
        db.session.rollback()
    finished = time.monotonic()
    db.session.connection().connection.dbapi_connection.set_progress_handler(None, 1)
    db.session.commit()
    return {"seconds": finished - started, "ticks": sum(started < t < finished for t in ticks), "error": error,
            "progress_calls": len(calls)}


with app.app_context():
    ticker = gevent.spawn(tick)
    gevent.sleep(0.05)
    print(json.dumps({"ok": commit(0), "interrupted": commit(1),
                      "stored": db.session.execute(text("SELECT id_tag FROM id_tags ORDER BY id_tag")).scalars().all()}))
