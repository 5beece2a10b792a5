"""The process log: one line per event on stderr, plain text or JSON (LOG_FORMAT), at LOG_LEVEL, with
the request id of the API request (or WebSocket connection) it happened in."""
import logging
import re
import uuid

from flask import Flask, g, has_app_context, request
from pythonjsonlogger.json import JsonFormatter

PLAIN = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}
# Request ids a client may choose (X-Request-ID): short and harmless in a log line.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields=JSON_NAMES)
    return logging.Formatter(PLAIN)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # g is the application context's: a charge point's connection carries its handshake's id
            # into the context it is served in (ocpp/websocket.py).
            record.request_id = g.get("request_id", "-") if has_app_context() else "-"
        return True


def init_app(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(app.config["LOG_FORMAT"]))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    level = app.config["LOG_LEVEL"]
    root.setLevel(level)
    # The libraries' per-frame chatter stays out of INFO.
    for noisy in ("ocpp", "simple_websocket", "urllib3", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    app.before_request(_assign_request_id)
    app.after_request(_return_request_id)


def _assign_request_id() -> None:
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _ACCEPTABLE_ID.match(offered) else uuid.uuid4().hex[:16]


def _return_request_id(response):
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response
