"""Heartbeat timeout: a charge point that has stopped answering is offline.

Two kinds of charge point, two sources of truth:

- a connection this process holds is alive while the charge point sends frames or answers the
  WebSocket pings (the time it last sent anything is in memory, app/ocpp/transport.py): a busy server
  writes last_seen late, and must not take its own slowness for the charge point's silence;
- a charge point recorded as connected that no live process holds (its process died, or the job runs
  in the RQ worker and Redis says nobody holds it) is judged by last_seen in the database.

The work goes in bounded batches: one SELECT of plain rows, one UPDATE for the batch's charge points, one
INSERT for their log rows, one commit, then a yield to the hub, so that the job never holds the process
however many charge points fall silent at once.
"""
import gevent
from flask import current_app

from app.services import charge_points
from app.services.charge_points import Silence
from app.services.connections import connections
from app.tasks import job
from app.timeutil import utcnow

BATCH = 500


@job
def check_heartbeats() -> dict:
    held = close_silent_connections()
    unheld, batches = _mark_unheld_offline()
    return {"offline": held + unheld, "batches": batches}


def silence_limit(config) -> float:
    """Seconds without a frame or a pong after which a connection counts as dead."""
    return config["HEARTBEAT_GRACE_FACTOR"] * config["OCPP_HEARTBEAT_INTERVAL"]


def close_silent_connections() -> int:
    """Mark offline and close the connections of this process that sent nothing, not even a pong, for
    grace x the heartbeat interval; how many."""
    config = current_app.config
    limit, registry = silence_limit(config), connections()
    sessions = registry.local_sessions()
    silent = []
    for start in range(0, len(sessions), BATCH * 4):
        silent += [session for session in sessions[start:start + BATCH * 4] if session.silent_seconds > limit]
        gevent.sleep(0)
    closed = 0
    for start in range(0, len(silent), BATCH):
        batch = silent[start:start + BATCH]
        marked = charge_points.mark_offline(
            [Silence(session.charge_point_id, session.connected_at, session.silent_seconds, None)
             for session in batch], utcnow(), describe=_described(config, "nothing received, not even a pong"))
        for session in batch:
            # Closed even where the record was not this connection's any more: its socket is dead either way.
            registry.close_local(session.charge_point_id, charge_points.HEARTBEAT_TIMEOUT, session.token)
        closed += len(marked)
        gevent.sleep(0)
    return closed


def _mark_unheld_offline() -> tuple[int, int]:
    """Mark offline the charge points recorded as connected and silent in the database that no live process
    holds; how many, and in how many batches. Those another live process holds are its business: it is
    asked to close them only if it has not heard from them either."""
    config = current_app.config
    now, grace, interval = utcnow(), config["HEARTBEAT_GRACE_FACTOR"], config["OCPP_HEARTBEAT_INTERVAL"]
    cutoff = charge_points.silent_cutoff(now, grace, interval)
    registry, marked, batches, after = connections(), 0, 0, ""
    while cutoff is not None and after is not None:
        silences, after = charge_points.silent_batch(now, cutoff, grace, interval, after, BATCH)
        unheld = [silence for silence in silences if not registry.holds(silence.charge_point_id)]
        if unheld and registry.relay is not None:
            held_elsewhere = registry.relay.holders([silence.charge_point_id for silence in unheld])
            for charge_point_id in held_elsewhere:
                registry.relay.close(charge_point_id, charge_points.HEARTBEAT_TIMEOUT, silence_limit(config))
            unheld = [silence for silence in unheld if silence.charge_point_id not in held_elsewhere]
        marked += len(charge_points.mark_offline(unheld, now, not_heard_since=cutoff,
                                                 describe=_described(config, "last seen")))
        batches += 1
        gevent.sleep(0)
    return marked, batches


def _described(config, source: str):
    grace = config["HEARTBEAT_GRACE_FACTOR"]

    def describe(silence: Silence) -> str:
        interval = silence.heartbeat_interval or config["OCPP_HEARTBEAT_INTERVAL"]
        return (f"silent for {round(silence.silent_seconds)} s ({source}; heartbeat interval {interval} s, "
                f"grace x{grace:g}): marked offline")
    return describe
