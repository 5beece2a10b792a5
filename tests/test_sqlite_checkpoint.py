"""SQLite's checkpoints run off the hub: a slow one (a large WAL written back) holds no other greenlet."""
import json
import subprocess
import sys

from tests.servers import ROOT, ScratchDatabase


def test_a_slow_checkpoint_lets_other_greenlets_run_and_a_failed_one_loses_no_commit(tmp_path):
    database = ScratchDatabase("sqlite", tmp_path)
    run = subprocess.run([sys.executable, "-m", "tests.slow_sqlite_checkpoint", database.url], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    checkpointed, failed = seen["ok"], seen["failed"]
    # Each commit was followed by its checkpoint, which took 0.3 s, and the greenlet that ticks every
    # 10 ms ran all along (on the hub's thread, not once).
    assert checkpointed["checkpoints"] == 1 and checkpointed["seconds"] >= 0.3, checkpointed
    assert checkpointed["ticks"] >= 15, checkpointed
    assert failed["checkpoints"] == 1 and failed["ticks"] >= 15, failed
    # A checkpoint that fails leaves its WAL for the next one: the commit before it stands.
    assert seen["stored"] == ["TAG1", "TAG2"]
    assert seen["autocheckpoint"] == 0  # the commits themselves never checkpoint
    assert "Traceback" not in run.stderr, run.stderr
