"""The OCPP-J endpoint: ws://host:port/<ChargePointId>, also /ocpp/<ChargePointId>, subprotocol ocpp1.6."""
from flask import Blueprint, current_app, jsonify, request

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
def check_handshake():
    """Refuse a connection at the handshake, before it is upgraded to a WebSocket."""
    charge_point_id = (request.view_args or {}).get("charge_point_id", "")
    problem = charge_point_id_problem(charge_point_id)
    if problem:
        system_log.warning("handshake_refused", f"connection refused: {problem}",
                           details={"chargePointId": system_log.truncate(charge_point_id, 100),
                                    "remoteAddress": request.remote_addr})
        return jsonify(error="bad_request", message=problem), 400
    if not current_app.config["OCPP_WEBSOCKET_COMPRESSION"]:
        # simple-websocket accepts permessage-deflate whenever it is offered; unoffered, it is not used.
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    return None


def serve_charge_point(ws, charge_point_id: str) -> None:
    known = charge_points.get(charge_point_id)
    lenient = (charge_points.validation_mode(known) if known else current_app.config["OCPP_VALIDATION"]) \
        == "lenient"
    if ws.subprotocol != OCPP_SUBPROTOCOL and not lenient:
        system_log.warning("handshake_refused", "connection closed: the ocpp1.6 subprotocol was not offered",
                           charge_point_id=charge_point_id if known else None)
        ws.close(PROTOCOL_ERROR, "subprotocol ocpp1.6 required")
        db.session.remove()
        return
    connected_at = utcnow()
    charge_points.record_connected(charge_point_id, connected_at, request.remote_addr)
    db.session.remove()
    session = ChargePointSession(charge_point_id, ws, CallDispatcher(charge_point_id, lenient), connected_at,
                                 on_seen=_record_seen)
    registry = connections()
    registry.attach(session)
    try:
        session.serve()
    finally:
        if registry.detach(session):
            charge_points.record_disconnected(charge_point_id, connected_at, utcnow(), session.close_reason)
        db.session.remove()


def _record_seen(charge_point_id, at) -> None:
    try:
        charge_points.record_seen(charge_point_id, at)
    finally:
        db.session.remove()


sock.route("/<charge_point_id>", bp=bp, endpoint="charge_point")(serve_charge_point)
sock.route("/ocpp/<charge_point_id>", bp=bp, endpoint="charge_point_under_ocpp")(serve_charge_point)
