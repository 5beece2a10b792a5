"""API authentication: where API keys exist, every /api route needs `Authorization: Bearer <key>`,
except the OpenAPI document (and /healthz, /readyz, which are not under /api)."""
import logging

from flask import Flask, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app.services import api_keys

logger = logging.getLogger(__name__)

OPEN_BLUEPRINTS = {"api-docs"}


def init_app(app: Flask) -> None:
    app.before_request(require_api_key)


def require_api_key():
    if not request.path.startswith("/api/") or request.blueprint in OPEN_BLUEPRINTS:
        return None
    if not api_keys.required():
        g.requester = f"API client {request.remote_addr}"
        return None
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    holder = api_keys.holder(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
    if holder is None:
        logger.warning("API request without a valid key from %s: %s %s", request.remote_addr, request.method,
                       request.path)
        raise Unauthorized("this API needs Authorization: Bearer <API key>",
                           www_authenticate=WWWAuthenticate("bearer", {"realm": "ocpp"}))
    g.requester = holder
    return None


def requester() -> str:
    """Who made this API request, for the log."""
    return g.get("requester", f"API client {request.remote_addr}")
