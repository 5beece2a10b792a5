"""Liveness and readiness, for load balancers and orchestrators; outside /api and without a key.

Both answer within a second whatever the charge points do: liveness asks nothing, and readiness waits
at most a quarter of a second for its write (app/database.py, CommitProbe) and, side by side, half a
second for Redis; the rest is for the work queued in the process ahead of the request (a reconnect
storm's handshakes take turns to keep that short: app/ocpp/admission.py).
"""
import gevent
from flask import Blueprint, current_app
from redis.exceptions import RedisError

from app.database import commit_problem
from app.extensions import redis_client
from app.outages import one_line

bp = Blueprint("health", __name__)

REDIS_WAIT_SECONDS = 0.5


@bp.get("/healthz")
def healthz():
    """The process answers (nothing else is asked)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The process can commit to the database, and Redis answers where one is configured: 200, else 503
    with what failed."""
    redis_check = None
    if current_app.config["REDIS_URL"]:
        redis_check = gevent.spawn(_redis_problem, redis_client(current_app))
    problems = {"database": commit_problem(current_app)}
    if redis_check is not None:
        problems["redis"] = redis_check.get()
    ready = not any(problems.values())
    body = {"status": "ready" if ready else "not ready", **{name: problem is None for name, problem in problems.items()}}
    if not ready:
        body["problems"] = {name: problem for name, problem in problems.items() if problem}
    return body, 200 if ready else 503


def _redis_problem(client) -> str | None:
    try:
        with gevent.Timeout(REDIS_WAIT_SECONDS, TimeoutError(f"Redis did not answer within {REDIS_WAIT_SECONDS} s")):
            client.ping()
        return None
    except (RedisError, TimeoutError) as error:
        return one_line(error)
