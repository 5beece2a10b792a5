"""SQLite's WAL checkpoints: the server's own, in an operating-system thread, so that the disk's wait
never holds the hub; SQLite's automatic ones only as the bound where those do not run."""
import sqlite3
import threading
import time

import gevent
import pytest
from sqlalchemy import text

from app.database import SQLITE_AUTOCHECKPOINT_PAGES, WalCheckpointer
from app.extensions import db


def test_the_checkpoints_copy_the_wal_into_the_database_file_from_another_thread(tmp_path):
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies pages back
    writer.execute("CREATE TABLE pages (content BLOB)")
    writer.executemany("INSERT INTO pages VALUES (?)", [(bytes(4000),)] * 500)
    writer.commit()
    before = path.stat().st_size
    checkpointer = WalCheckpointer(str(path), interval=0.05)
    checkpoints = checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            gevent.sleep(0.05)
    finally:
        checkpoints.kill()
        writer.close()
    assert checkpointer.checkpoints >= 1
    assert threading.get_native_id() not in checkpointer.thread_ids
    assert path.stat().st_size > before + 500 * 4000  # the rows' pages are in the database file now


def test_the_checkpointer_goes_on_after_a_failure(tmp_path):
    """A file it cannot open (its directory gone, say) fails a checkpoint, not the checkpoints after it."""
    path = tmp_path / "missing" / "wal.db"
    checkpointer = WalCheckpointer(str(path), interval=0.02)
    checkpoints = checkpointer.start()
    try:
        gevent.sleep(0.2)
        assert checkpointer.checkpoints == 0 and not checkpoints.dead
        path.parent.mkdir()
        sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            gevent.sleep(0.05)
    finally:
        checkpoints.kill()
    assert checkpointer.checkpoints >= 1


def test_the_servers_connections_leave_checkpoints_to_the_checkpointer(in_app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == SQLITE_AUTOCHECKPOINT_PAGES
