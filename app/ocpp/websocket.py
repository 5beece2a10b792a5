"""The OCPP-J endpoint: ws://host:port/<ChargePointId>, also /ocpp/<ChargePointId>, subprotocol ocpp1.6."""
from flask import Blueprint, current_app, g, jsonify, request

from app.extensions import db, sock
from app.ocpp.router import CallDispatcher
from app.ocpp.session import PROTOCOL_ERROR, ChargePointSession
from app.services import charge_points, system_log
from app.services.connections import connections
from app.timeutil import utcnow

OCPP_SUBPROTOCOL = "ocpp1.6"
MAX_CHARGE_POINT_ID_LENGTH = 48  # CiString48, the identity of OCPP 1.6 and its Security Whitepaper

bp = Blueprint("ocpp", __name__)


def charge_point_id_problem(charge_point_id: str) -> str | None:
    """Why this id cannot name a charge point, or None when it can."""
    if not charge_point_id:
        return "the charge point id is empty"
    if len(charge_point_id) > MAX_CHARGE_POINT_ID_LENGTH:
        return f"the charge point id is longer than {MAX_CHARGE_POINT_ID_LENGTH} characters"
    if not (charge_point_id.isascii() and charge_point_id.isprintable()):
        return "the charge point id must be printable ASCII"
    return None


@bp.before_request
def accept_or_refuse_handshake():
    """Decide on the connection before it is upgraded, and record it before the charge point can act.

    Once the charge point has the handshake's answer it may send frames, and its operator may send it
    commands: by then it must be in the database and, without any wait in between, in the registry.
    """
    charge_point_id = (request.view_args or {}).get("charge_point_id", "")
    problem = charge_point_id_problem(charge_point_id)
    if problem:
        system_log.warning("handshake_refused", f"connection refused: {problem}",
                           details={"chargePointId": system_log.truncate(charge_point_id, 100),
                                    "remoteAddress": request.remote_addr})
        return jsonify(error="bad_request", message=problem, details={}), 400
    known = charge_points.get(charge_point_id)
    g.lenient = (charge_points.validation_mode(known) if known else current_app.config["OCPP_VALIDATION"]) \
        == "lenient"
    offered = [protocol.strip() for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    g.subprotocol_missing = OCPP_SUBPROTOCOL not in offered and not g.lenient
    if not g.subprotocol_missing:
        g.connected_at = utcnow()
        charge_points.record_connected(charge_point_id, g.connected_at, request.remote_addr)
    db.session.remove()
    if not current_app.config["OCPP_WEBSOCKET_COMPRESSION"]:
        # simple-websocket accepts permessage-deflate whenever it is offered; unoffered, it is not used.
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    return None


def serve_charge_point(ws, charge_point_id: str) -> None:
    if g.subprotocol_missing:
        # As OCPP-J asks: the handshake completes without the subprotocol, then the connection closes.
        system_log.warning("handshake_refused", "connection closed: the ocpp1.6 subprotocol was not offered",
                           details={"chargePointId": charge_point_id, "remoteAddress": request.remote_addr})
        ws.close(PROTOCOL_ERROR, "subprotocol ocpp1.6 required")
        return
    # last_seen is written at most twice a heartbeat interval (and at most every 30 s).
    last_seen_every = min(30.0, current_app.config["OCPP_HEARTBEAT_INTERVAL"] / 2)
    session = ChargePointSession(charge_point_id, ws, CallDispatcher(charge_point_id, g.lenient), g.connected_at,
                                 last_seen_every=last_seen_every, on_seen=_record_seen)
    registry = connections()
    registry.attach(session)
    g.served = True
    try:
        session.serve()
    finally:
        if registry.detach(session):
            charge_points.record_disconnected(charge_point_id, g.connected_at, utcnow(), session.close_reason)
        db.session.remove()


@bp.teardown_request
def record_failed_handshake(_error):
    # Recorded as connected, but the WebSocket never came up (the handshake failed): record its end.
    if "connected_at" in g and not g.get("served"):
        charge_points.record_disconnected(request.view_args["charge_point_id"], g.connected_at, utcnow(),
                                          "the WebSocket handshake failed")
        db.session.remove()


def _record_seen(charge_point_id, at) -> None:
    try:
        charge_points.record_seen(charge_point_id, at)
    finally:
        db.session.remove()


sock.route("/<charge_point_id>", bp=bp, endpoint="charge_point")(serve_charge_point)
sock.route("/ocpp/<charge_point_id>", bp=bp, endpoint="charge_point_under_ocpp")(serve_charge_point)
