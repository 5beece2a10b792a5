"""The OCPP 1.6 central system: create_app() builds the Flask application."""
from pathlib import Path

from flask import Flask, abort, request

from app import api, cli, console, database, errors, events, group_commit, log_setup, metrics
from app.extensions import db, init_migrations, sock
from app.ocpp import transport
from app.services import connections
from app.version import __version__  # noqa: F401  (app.__version__, kept for those who read it there)
from config import Config, load_config_or_exit

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Config | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config or load_config_or_exit())
    app.json.sort_keys = False  # keys in the order the schemas declare them
    app.config["SOCK_SERVER_OPTIONS"] = transport.server_options(app.config)
    log_setup.init_app(app)
    db.init_app(app)
    init_migrations(app, str(MIGRATIONS))
    sock.init_app(app)
    database.init_app(app)
    group_commit.init_app(app)
    connections.init_app(app)
    events.init_app(app)

    from app.ocpp import handlers  # noqa: F401  (registers the OCPP handlers)
    from app.api.health import bp as health_bp
    from app.ocpp.websocket import bp as ocpp_bp
    app.register_blueprint(ocpp_bp)
    app.register_blueprint(health_bp)
    metrics.init_app(app)
    api.init_app(app)
    errors.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    _serve_each_port_its_own(app)
    return app


BOTH_PORTS = {"health", "metrics"}  # load balancers of either port check these


def _serve_each_port_its_own(app: Flask) -> None:
    """With two ports, the WebSocket endpoint answers only on its port and the API only on the other;
    /healthz, /readyz and /metrics answer on both."""
    if app.config["PORT"] is not None or app.config["OCPP_WEBSOCKET_PORT"] == app.config["OCPP_API_PORT"]:
        return
    websocket_port, api_port = str(app.config["OCPP_WEBSOCKET_PORT"]), str(app.config["OCPP_API_PORT"])

    @app.before_request
    def serve_only_this_ports_service():
        # SERVER_PORT is the port gunicorn accepted the connection on (not the Host header).
        port = request.environ.get("SERVER_PORT")
        if request.blueprint in BOTH_PORTS:
            return
        is_websocket_endpoint = request.blueprint == "ocpp"
        if (port == websocket_port and not is_websocket_endpoint) or (port == api_port and is_websocket_endpoint):
            abort(404)
