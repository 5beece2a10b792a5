"""The operator console: server-rendered pages (Jinja2) at / on the API port, over the same services as
the API. Its own sign-in (accounts with roles, signed-cookie sessions, CSRF tokens); /api keeps its
Bearer keys and never looks at the console's cookie."""
from datetime import timedelta

from flask import Flask


def init_app(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="ocpp_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(app.config["OCPP_USE_TLS"]),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    from app.console import (auth, blueprint, charge_points, filters, live, management,  # noqa: F401 (routes)
                             overview, transactions)
    filters.init_app(app)
    app.session_interface = auth.ConsoleSessionInterface()
    app.register_blueprint(blueprint.bp)
