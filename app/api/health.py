"""Liveness and readiness, for load balancers and orchestrators; outside /api and without a key."""
from flask import Blueprint, current_app
from redis.exceptions import RedisError

from app.services import server_status
from app.services.connections import redis_client

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers (nothing else is asked)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The database answers, and Redis where one is configured: 200, else 503."""
    checks = {"database": server_status.database_answers()}
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _redis_answers()
    ready = all(checks.values())
    return {"status": "ready" if ready else "not ready", **checks}, 200 if ready else 503


def _redis_answers() -> bool:
    try:
        return bool(redis_client(current_app).ping())
    except RedisError:
        return False
