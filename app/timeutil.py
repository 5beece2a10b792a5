"""The one clock of the server: UTC. (The spec's dateTime in and out: app.spec.datatypes.)"""
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
