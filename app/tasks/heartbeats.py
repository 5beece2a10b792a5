"""Heartbeat timeout: a charge point silent for a grace multiple of its heartbeat interval is offline."""
from flask import current_app

from app.services import charge_points, system_log
from app.services.connections import connections
from app.tasks import job
from app.timeutil import utcnow

REASON = "heartbeat timeout"


@job
def check_heartbeats() -> dict:
    now, grace = utcnow(), current_app.config["HEARTBEAT_GRACE_FACTOR"]
    silent = charge_points.silent(now, grace, current_app.config["OCPP_HEARTBEAT_INTERVAL"])
    for charge_point in silent:
        seconds = round((now - charge_point.last_seen).total_seconds())
        system_log.warning("heartbeat_timeout",
                           f"silent for {seconds} s (heartbeat interval {charge_point.heartbeat_interval or '?'} s, "
                           f"grace x{grace:g}): marked offline", charge_point_id=charge_point.id)
        # Its connection is dead: closing it records the disconnection; where no process holds it any
        # more (a crashed process), it is recorded here.
        if not connections().disconnect(charge_point.id, REASON):
            charge_points.record_disconnected(charge_point.id, charge_point.connected_at, now, REASON)
    return {"offline": len(silent)}
