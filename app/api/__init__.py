"""The HTTP API under /api, with its OpenAPI document at /api/openapi.json (flask-smorest)."""
from flask import Flask

from app.api.blueprint import Api
from app.schemas import Timestamp
from app.version import __version__

api = Api()


def init_app(app: Flask) -> None:
    app.config.update(
        API_TITLE="OCPP Server API",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description":
                           "Needed where API keys exist (API_KEYS, or `flask api-key create`)"}}},
            "security": [{"apiKey": []}],
        },
    )
    api.init_app(app)
    api.register_field(Timestamp, "string", "date-time")
    from app.api import auth
    auth.init_app(app)
    from app.api import (admin, authorizations, charge_points, commands, logs, reports, smart_features, status,
                         transactions)
    for module in (status, charge_points, transactions, logs, authorizations, commands, smart_features, admin, reports):
        api.register_blueprint(module.bp)
