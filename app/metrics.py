"""Prometheus metrics, served at /metrics (on the API port, and on the WebSocket port for load balancers).

With several gunicorn workers, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before the workers import
this module, and /metrics adds up every worker's numbers (prometheus_client's multiprocess mode).
Label values are bounded: an action a charge point invents is counted as "other".
"""
import os

from flask import Blueprint, Flask, Response, request
from ocpp.v16.enums import Action
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest,
                               multiprocess)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

CONNECTED = Gauge("ocpp_connected_charge_points", "Charge points connected to this server",
                  multiprocess_mode="livesum")
MESSAGES = Counter("ocpp_messages_total", "CALLs received from charge points, by action and the answer given",
                   ["action", "result"])
CALL_ERRORS = Counter("ocpp_callerrors_total", "CALLERRORs sent to charge points, by error code", ["code"])
COMMAND_SECONDS = Histogram("ocpp_command_duration_seconds",
                            "Round trip of CALLs to charge points (queueing included), by action and outcome",
                            ["action", "outcome"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
API_REQUESTS = Counter("ocpp_api_requests_total", "HTTP API requests, by method, route and status",
                       ["method", "route", "status"])
JOB_RUNS = Counter("ocpp_job_runs_total", "Background job runs, by job and outcome", ["job", "outcome"])

_ACTIONS = frozenset(action.value for action in Action)
_ERROR_CODES = frozenset({"NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
                          "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
                          "TypeConstraintViolation", "GenericError"})

bp = Blueprint("metrics", __name__)


def action_label(action) -> str:
    return action if action in _ACTIONS else "other"


def answered(action: str, error_code: str | None = None) -> None:
    """Count a CALL from a charge point and the answer it got (CALLRESULT, or a CALLERROR's code)."""
    if error_code is None:
        MESSAGES.labels(action_label(action), "CALLRESULT").inc()
        return
    MESSAGES.labels(action_label(action), "CALLERROR").inc()
    rejected(error_code)


def rejected(error_code: str) -> None:
    CALL_ERRORS.labels(error_code if error_code in _ERROR_CODES else "other").inc()


@bp.get("/metrics")
def metrics():
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _count_api_request(response):
    if request.path.startswith("/api/"):
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        API_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_count_api_request)
