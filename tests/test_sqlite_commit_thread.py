"""SQLite's commits run off the hub: a slow one (a checkpoint writing the WAL back) holds no other greenlet."""
import json
import subprocess
import sys

from tests.servers import ROOT, ScratchDatabase


def test_a_slow_sqlite_commit_lets_other_greenlets_run_and_its_failure_is_sqlalchemys(tmp_path):
    database = ScratchDatabase("sqlite", tmp_path)
    run = subprocess.run([sys.executable, "-m", "tests.slow_sqlite_commit", database.url], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    committed, interrupted = seen["ok"], seen["interrupted"]
    # The greenlet that ticks every 10 ms ran all along the 0.3 s commit (on the hub's thread, not once).
    assert committed["seconds"] >= 0.3 and committed["ticks"] >= 15, committed
    assert committed["error"] is None
    assert interrupted["ticks"] >= 15, interrupted
    # The failure went through SQLAlchemy, as every other database error does (app/outages.py, readiness),
    # and gevent's pool printed no traceback for it.
    assert interrupted["error"] == "sqlalchemy.exc.OperationalError"
    assert seen["stored"] == ["TAG0"]
    assert "Traceback" not in run.stderr, run.stderr
