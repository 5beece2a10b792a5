"""What /api/status reports: the server, its charge points and its database."""
import time

from flask import current_app
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


def report() -> dict:
    database_up = database_answers()
    return {
        "status": "running",
        "server_time": utcnow(),
        "system_name": current_app.config["OCPP_SYSTEM_NAME"],
        "version": __version__,
        "uptime_seconds": int(time.monotonic() - STARTED),
        "charge_points_total": charge_points.count() if database_up else None,
        "charge_points_connected": len(connections().connected_ids()),
        "active_transactions": charging.count_running() if database_up else None,
        "database": {"type": current_app.config["DATABASE_KIND"], "connected": database_up},
    }
