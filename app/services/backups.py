"""Consistent database backups in BACKUP_DIR, and restoring one.

SQLite: the online backup API, safe while the server writes. PostgreSQL: pg_dump's custom format,
restored with pg_restore. A backup is written under a temporary name, flushed to disk and renamed when
complete, so no half-written file ever has a backup's name, not even after a crash; the newest
BACKUP_KEEP are kept. The temporary file of a run that died (its process killed) is removed by a later
run once no live run can be writing it.
"""
import os
import sqlite3
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import make_url

from app.timeutil import utcnow

PREFIX = "ocpp-backup-"
SUFFIX = {"sqlite": ".sqlite3", "postgres": ".pgdump"}
PARTIAL = ".partial"
TIME_LIMIT = 3600  # seconds a backup may take: pg_dump is stopped past it, and so is the job


class BackupError(RuntimeError):
    """A backup or restore that could not be made (the message says why)."""


def directory() -> Path:
    return Path(current_app.config["BACKUP_DIR"]).expanduser().resolve()


def make_backup(now: datetime | None = None) -> tuple[Path, list[Path]]:
    """Write a backup; the path written and the files removed (old backups past BACKUP_KEEP, temporary
    files of runs that died)."""
    config, now = current_app.config, now or utcnow()
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True)
    abandoned = remove_abandoned(folder)
    kind = config["DATABASE_KIND"]
    final = folder / f"{PREFIX}{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z{SUFFIX[kind]}"
    partial = folder / f".{final.name}.{uuid.uuid4().hex}{PARTIAL}"
    try:
        if kind == "sqlite":
            _copy_sqlite(config["SQLALCHEMY_DATABASE_URI"], partial)
        else:
            _run(["pg_dump", "--format=custom", "--no-owner", f"--file={partial}",
                  f"--dbname={libpq_url(config['SQLALCHEMY_DATABASE_URI'])}"], "pg_dump")
        _flush(partial)
        os.replace(partial, final)
        _flush(folder)
    finally:
        partial.unlink(missing_ok=True)
    return final, prune(folder, config["BACKUP_KEEP"]) + abandoned


def remove_abandoned(folder: Path, now: float | None = None) -> list[Path]:
    """Remove the temporary files untouched for longer than a backup may take: the runs writing them died
    (killed in the middle). Those of runs under way, here or in another process, stay."""
    cutoff = (now or time.time()) - TIME_LIMIT
    return _remove(path for path in folder.glob(f".{PREFIX}*{PARTIAL}") if _modified_before(path, cutoff))


def _modified_before(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False  # another run removed it first


def _remove(paths) -> list[Path]:
    """Remove the files; those another run removed first are not in the list returned."""
    removed = []
    for path in paths:
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


def _flush(path: Path) -> None:
    """The file's (or the directory's: a rename) contents on disk, not only in the page cache."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def backups(folder: Path | None = None) -> list[Path]:
    """The backups, newest first (their names sort by time)."""
    folder = folder or directory()
    return sorted((path for path in folder.glob(f"{PREFIX}*") if path.suffix in SUFFIX.values()), reverse=True)


def prune(folder: Path, keep: int) -> list[Path]:
    return _remove(backups(folder)[keep:])


def restore(path: Path) -> None:
    """Replace the database's contents with the backup's."""
    config = current_app.config
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    if config["DATABASE_KIND"] == "sqlite":
        if path.suffix != SUFFIX["sqlite"]:
            raise BackupError(f"{path.name} is not a SQLite backup ({SUFFIX['sqlite']})")
        _copy_sqlite(f"sqlite:///{path}", _sqlite_path(config["SQLALCHEMY_DATABASE_URI"]))
    else:
        if path.suffix != SUFFIX["postgres"]:
            raise BackupError(f"{path.name} is not a PostgreSQL backup ({SUFFIX['postgres']})")
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              f"--dbname={libpq_url(config['SQLALCHEMY_DATABASE_URI'])}", str(path)], "pg_restore")


def _sqlite_path(uri: str) -> Path:
    return Path(make_url(uri).database)


def _copy_sqlite(source_uri: str, target: Path) -> None:
    source = sqlite3.connect(_sqlite_path(source_uri) if source_uri.startswith("sqlite") else source_uri)
    destination = sqlite3.connect(target)
    try:
        # Page by page, yielding between steps: under gevent the server keeps answering meanwhile.
        source.backup(destination, pages=256, progress=lambda *_: time.sleep(0))
    finally:
        destination.close()
        source.close()


def libpq_url(uri: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore read it (no +psycopg2)."""
    return make_url(uri).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str], name: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIME_LIMIT)
    except FileNotFoundError:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools are needed)") from None
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} took longer than {TIME_LIMIT} s and was stopped") from None
    if result.returncode != 0:
        raise BackupError(f"{name} failed: {result.stderr.strip()[-500:]}")
