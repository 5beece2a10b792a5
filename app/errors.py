"""One JSON shape for every API error, and the one place where failures become HTTP answers.

    {"error": "not_found", "message": "charge point CP9 is not known", "details": {...}}

400 bad body or query (details: the field errors), 401/403 authentication, 404 unknown resource,
409 conflict (e.g. charge point not connected), 502 the charge point answered with a CALLERROR or an
invalid CALLRESULT, 503 the database or the message bus (Redis) is unavailable (with Retry-After), 504 it
did not answer in time. Nothing a client sends gets a 500.
"""
import logging

import marshmallow as ma
from flask import Flask, request
from redis.exceptions import RedisError
from sqlalchemy import exc
from werkzeug.exceptions import HTTPException

from app.outages import (DATABASE_UNAVAILABLE, MESSAGE_BUS_UNAVAILABLE, RETRY_AFTER_SECONDS, FailureLog,
                         database_unavailable)
from app.services.errors import Conflict, Invalid, NotFound, ServiceError
from app.spec.failures import CallErrorReceived, CallTimeout, CommandFailed, InvalidCallResult, NotConnected

logger = logging.getLogger(__name__)


class ErrorSchema(ma.Schema):
    error = ma.fields.String(required=True, metadata={"description": "Machine-readable error, e.g. not_found"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    details = ma.fields.Dict(metadata={"description": "Field errors, or the charge point's CALLERROR"})


def http_error_answer(error: HTTPException) -> tuple[dict, int, dict]:
    """Every HTTP exception in the error shape, with the headers it carries (WWW-Authenticate,
    Retry-After, Allow): whoever raised it, an API view, the WebSocket handshake or the request parser."""
    data = getattr(error, "data", None) or {}
    details = data.get("errors") or data.get("messages") or {}
    if error.code == 400 and details:
        message = "the request is not valid: " + _field_error_summary(details)
    else:
        message = data.get("message") or error.description or error.name
    # A 503 is an outage or a busy server, logged once per interval by whoever decided it (app/outages.py).
    if error.code >= 500 and error.code != 503:
        logger.error("%s %s answered %s: %s", request.method, request.path, error.code, message)
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    return error_body(error.name, message, details), error.code, {**headers, **(data.get("headers") or {})}


def error_body(name: str, message: str, details: dict | None = None) -> dict:
    return {"error": name.lower().replace(" ", "_"), "message": message, "details": details or {}}


def _field_error_summary(details: dict) -> str:
    """webargs nests errors by location ({"json": {"type": ["..."]}}); say them in one line."""
    def text(problems) -> str:
        return " ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
    parts = []
    for location, errors in details.items():
        if isinstance(errors, dict):
            parts.extend(f"{name}: {text(problems)}" for name, problems in errors.items())
        else:
            parts.append(f"{location}: {text(errors)}")
    return "; ".join(parts)


_STATUS_BY_FAILURE = [
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (Invalid, 400, "bad_request"),
    (NotConnected, 409, "not_connected"),
    (CallTimeout, 504, "charge_point_timeout"),
    (CallErrorReceived, 502, "charge_point_error"),
    (InvalidCallResult, 502, "charge_point_invalid_reply"),
]


def _failure_details(failure: Exception) -> dict:
    if isinstance(failure, ServiceError):
        return failure.details
    if isinstance(failure, CallErrorReceived):
        return {"errorCode": failure.error_code, "errorDescription": failure.error_description,
                "errorDetails": failure.error_details}
    if isinstance(failure, InvalidCallResult):
        return {"violation": failure.violation}
    if isinstance(failure, CallTimeout):
        return {"timeoutSeconds": failure.timeout}
    return {}


def failure_answer(failure: Exception) -> tuple[dict, int] | None:
    """The API's answer to a service refusal or a failed command (body, HTTP status); None for others."""
    for failure_class, status, name in _STATUS_BY_FAILURE:
        if isinstance(failure, failure_class):
            return error_body(name, str(failure), _failure_details(failure)), status
    return None


def refuse_nul_in_url():
    """A NUL in the path or the query is refused before anything looks it up. The query is read as it came,
    not parsed: a decoded NUL is an encoded %00 (parsing every request's query, a reconnect storm's
    handshakes included, was 2 % of the worker's time)."""
    query = request.query_string
    if "\x00" in request.path or b"%00" in query or b"\x00" in query:
        return error_body("Bad Request", "the URL contains a NUL character"), 400
    return None


_database_failures = FailureLog("requests answered 503: the database is unavailable")
_message_bus_failures = FailureLog("requests answered 503: the message bus (Redis) is unavailable")


def unavailable(message: str) -> tuple[dict, int, dict]:
    """The 503 answer of an outage: the error shape, and when to try again."""
    return error_body("Service Unavailable", message), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def database_failure(error: exc.SQLAlchemyError):
    """503 for a database that is down, full or read-only (logged once per interval); a bug stays a 500."""
    if not database_unavailable(error):
        raise error
    _database_failures.failed(error)
    return unavailable(DATABASE_UNAVAILABLE)


def message_bus_failure(error: RedisError):
    _message_bus_failures.failed(error)
    return unavailable(MESSAGE_BUS_UNAVAILABLE)


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_in_url)
    app.register_error_handler(exc.DBAPIError, database_failure)
    app.register_error_handler(exc.TimeoutError, database_failure)
    app.register_error_handler(RedisError, message_bus_failure)

    def handle_failure(failure: Exception):
        answer = failure_answer(failure)
        if answer is None:
            raise failure
        return answer

    app.register_error_handler(ServiceError, handle_failure)
    app.register_error_handler(CommandFailed, handle_failure)
