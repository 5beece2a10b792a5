"""The one clock of the server: UTC. (The spec's dateTime in and out: app.spec.datatypes.)"""
from datetime import datetime, timezone

from app.spec.datatypes import parse_timestamp  # noqa: F401 (app/tasks/offline_transactions.py, until issue 13 merges)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
