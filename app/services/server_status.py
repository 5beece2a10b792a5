"""What /api/status reports: the server, its charge points, its database and its message bus.

During an outage it reports what it knows and says what it does not: a figure it cannot know is null,
and database.connected or messageBus.connected says why.
"""
import time

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import text

from app.version import __version__
from app.extensions import db
from app.services import charge_points, charging
from app.services.connections import connections
from app.timeutil import utcnow

STARTED = time.monotonic()


def database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:
        db.session.rollback()
        return False


def connected_count() -> int | None:
    """Charge points connected to any process; None when Redis, which knows the other processes', is down."""
    try:
        return len(connections().connected_ids())
    except RedisError:
        return None


def report() -> dict:
    database_up = database_answers()
    connected = connected_count()
    return {
        "status": "running",
        "server_time": utcnow(),
        "system_name": current_app.config["OCPP_SYSTEM_NAME"],
        "version": __version__,
        "uptime_seconds": int(time.monotonic() - STARTED),
        "charge_points_total": charge_points.count() if database_up else None,
        "charge_points_connected": connected,
        "active_transactions": charging.count_running() if database_up else None,
        "database": {"type": current_app.config["DATABASE_KIND"], "connected": database_up},
        "message_bus": {"type": "redis", "connected": connected is not None} if current_app.config["REDIS_URL"] else None,
    }
