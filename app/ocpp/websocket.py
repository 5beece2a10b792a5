"""The OCPP-J endpoint: ws://host:port/<ChargePointId>, also /ocpp/<ChargePointId>, subprotocol ocpp1.6.

Outages: while the database is unavailable, handshakes are answered 503 with Retry-After; connected
charge points stay connected (their bookkeeping, such as last seen, is best effort) and each message
whose own write fails gets CALLERROR InternalError. A disconnection that cannot be recorded is recorded
when the database is back. While Redis is unavailable, a new connection cannot be registered for the
other processes: it is closed with 1013 (try again later).
"""
from flask import Blueprint, current_app, g, request
from redis.exceptions import RedisError
from sqlalchemy import exc
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import BadRequest, NotFound, ServiceUnavailable, Unauthorized

from app.extensions import db, sock
from app.ocpp import transport
from app.ocpp.admission import admission
from app.ocpp.router import CallDispatcher
from app.ocpp.session import ChargePointSession
from app.spec.close_codes import PROTOCOL_ERROR, TRY_AGAIN_LATER
from app.outages import (DATABASE_UNAVAILABLE, MESSAGE_BUS_UNAVAILABLE, RETRY_AFTER_SECONDS, Backlog, FailureLog,
                         database_unavailable)
from app.services import charge_points, security, system_log
from app.services.connections import ShuttingDown, connections
from app.timeutil import utcnow

_refused_handshakes = FailureLog("handshakes answered 503: the database is unavailable")
_unregistered = FailureLog("connections closed with 1013: the message bus (Redis) is unavailable")
_unseen = FailureLog("last seen not recorded (best effort: the connections stay and their messages are answered)")
_unrecorded_disconnections = Backlog("disconnections not recorded")

OCPP_SUBPROTOCOL = "ocpp1.6"

bp = Blueprint("ocpp", __name__)


@bp.before_request
def accept_or_refuse_handshake():
    """Decide on the connection before it is upgraded, and record it before the charge point can act.

    Once the charge point has the handshake's answer it may send frames, and its operator may send it
    commands: by then it must be in the database and, without any wait in between, in the registry.
    A refusal is a werkzeug HTTP exception, answered in the API's error shape by the app's one handler.
    It runs in its turn (admission.py), which ends once it is registered or refused.
    """
    charge_point_id = (request.view_args or {}).get("charge_point_id", "")
    try:
        # Refused before waiting for a turn: a refusal must stay cheap when most of a storm is refused.
        _refuse_id(charge_point_id)
        _refuse_beyond_capacity()
        _refuse_when_overloaded(charge_point_id)
        admission().take_turn()
        g.turn = True
        _identify_and_record(charge_point_id)
    except (exc.DBAPIError, exc.TimeoutError) as error:
        _refuse_while_database_unavailable(error)
    finally:
        db.session.remove()


def _refuse_while_database_unavailable(error: exc.SQLAlchemyError):
    """A handshake the database cannot take now: 503 and Retry-After, logged once per interval."""
    if not database_unavailable(error):
        raise error
    # Recording the connection is what failed: there is no connection whose end to record.
    g.pop("connected_at", None)
    _refused_handshakes.failed(error)
    raise ServiceUnavailable(DATABASE_UNAVAILABLE, retry_after=RETRY_AFTER_SECONDS) from error


def _identify_and_record(charge_point_id: str) -> None:
    known = charge_points.known_at_handshake(charge_point_id)
    _refuse_identity(charge_point_id, known)
    g.lenient = charge_points.validation_mode(known) == "lenient" if known \
        else current_app.config["OCPP_VALIDATION"] == "lenient"
    g.accepted = charge_points.may_send_calls(known)
    offered = [protocol.strip() for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    g.subprotocol_missing = OCPP_SUBPROTOCOL not in offered and not g.lenient
    if not g.subprotocol_missing:
        g.connected_at = utcnow()
        # The turn ends where its CPU work does: waiting for the commit costs none, and the group commit
        # counts the writes in the backlog from here (a turn held through the commit capped a storm at
        # the turns per commit round, about 250 charge points a second on SQLite).
        _end_turn()
        charge_points.record_connected(charge_point_id, g.connected_at, request.remote_addr)
    if not current_app.config["OCPP_WEBSOCKET_COMPRESSION"]:
        # simple-websocket accepts permessage-deflate whenever it is offered; unoffered, it is not used.
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


def _refuse_id(charge_point_id: str) -> None:
    problem = charge_points.id_problem(charge_point_id)
    if problem is None:
        return
    system_log.warning("handshake_refused", f"connection refused: {problem}",
                       details={"chargePointId": system_log.truncate(charge_point_id, 100),
                                "remoteAddress": request.remote_addr})
    raise BadRequest(problem)


def _refuse_beyond_capacity() -> None:
    limit = current_app.config["OCPP_MAX_CONNECTIONS"]
    if connections().local_count() < limit:
        return
    system_log.warning("handshake_refused", f"connection refused: this process holds {limit} connections "
                       "(OCPP_MAX_CONNECTIONS)", details={"remoteAddress": request.remote_addr})
    raise ServiceUnavailable("the central system is at capacity; try again later", retry_after=30)


def _refuse_when_overloaded(charge_point_id: str) -> None:
    gate = admission()
    if not gate.overloaded() or charge_points.has_open_transaction(charge_point_id):
        return
    retry_after = gate.retry_after()
    gate.shed(charge_point_id, f"connection refused with 503, Retry-After {retry_after} s")
    raise ServiceUnavailable("the central system is busy; try again later", retry_after=retry_after)


def _refuse_identity(charge_point_id: str, known) -> None:
    """Unknown charge points (OCPP_UNKNOWN_CHARGE_POINTS=reject) and failed authentication are refused
    alike when a password or certificate is asked for, so that the answer does not tell which ids exist."""
    reason = None
    if known is None and current_app.config["OCPP_UNKNOWN_CHARGE_POINTS"] == "reject":
        if security.profile_of(None) == 0:
            system_log.warning("handshake_refused", "connection refused: unknown charge point",
                               details={"chargePointId": charge_point_id, "remoteAddress": request.remote_addr})
            raise NotFound("unknown charge point")
        reason = "unknown charge point"
    reason = reason or security.refusal(charge_point_id, known, _credentials())
    if reason is None:
        return
    system_log.warning("authentication_failed", f"connection refused: {reason}",
                       details={"chargePointId": charge_point_id, "remoteAddress": request.remote_addr,
                                "securityProfile": security.profile_of(known)})
    raise Unauthorized("authentication failed",
                       www_authenticate=WWWAuthenticate("basic", {"realm": "ocpp", "charset": "UTF-8"}))


def _credentials() -> security.Credentials:
    basic = request.authorization if request.authorization and request.authorization.type == "basic" else None
    tls_socket = request.environ.get("gunicorn.socket")
    peer = tls_socket.getpeercert() if request.is_secure and hasattr(tls_socket, "getpeercert") else None
    return security.Credentials(username=basic.username if basic else None,
                                password=basic.password if basic else None, tls=request.is_secure,
                                certificate_common_name=security.certificate_common_name(peer))


def serve_charge_point(ws, charge_point_id: str) -> None:
    if g.subprotocol_missing:
        # As OCPP-J asks: the handshake completes without the subprotocol, then the connection closes.
        system_log.warning("handshake_refused", "connection closed: the ocpp1.6 subprotocol was not offered",
                           details={"chargePointId": charge_point_id, "remoteAddress": request.remote_addr})
        ws.close(PROTOCOL_ERROR, "subprotocol ocpp1.6 required")
        return
    # last_seen is written at most twice a heartbeat interval (and at most every 30 s).
    last_seen_every = min(30.0, current_app.config["OCPP_HEARTBEAT_INTERVAL"] / 2)
    dispatcher = CallDispatcher(charge_point_id, g.lenient, g.accepted)
    session = ChargePointSession(charge_point_id, ws, dispatcher, g.connected_at, last_seen_every=last_seen_every,
                                 on_seen=_record_seen, calls_per_second=current_app.config["OCPP_RATE_LIMIT"])
    registry = connections()
    try:
        registry.attach(session)
    except ShuttingDown as closing:
        g.end_reason = str(closing)
        return
    except RedisError as error:
        # Not registered, it could not be reached from the other processes: let it come back later.
        _unregistered.failed(error)
        g.end_reason = MESSAGE_BUS_UNAVAILABLE
        session.close(TRY_AGAIN_LATER, "message bus unavailable; try again later")
        return
    finally:
        _end_turn()
    g.served = True
    app, connected_at, request_id = current_app._get_current_object(), g.connected_at, g.get("request_id", "-")

    def serve() -> None:
        with app.app_context():
            g.request_id = request_id  # the connection's log lines carry its handshake's request id
            try:
                session.serve()
            finally:
                if registry.detach(session):
                    _record_disconnected(charge_point_id, connected_at, session.close_reason)
                db.session.remove()
    transport.serve_apart(ws, serve)


def _end_turn() -> None:
    if g.pop("turn", False):
        admission().end_turn()


@bp.teardown_request
def record_failed_handshake(_error):
    _end_turn()
    # Recorded as connected, but the WebSocket never came up (the handshake failed): record its end.
    if "connected_at" in g and not g.get("served"):
        db.session.rollback()  # whatever the failed request left is void
        _record_disconnected(request.view_args["charge_point_id"], g.connected_at,
                             g.get("end_reason", "the WebSocket handshake failed"))
        db.session.remove()


def _record_disconnected(charge_point_id: str, connected_at, reason: str) -> None:
    """Record the end of a connection; while the database is away, in the background once it is back."""
    at = utcnow()

    def record():
        charge_points.record_disconnected(charge_point_id, connected_at, at, reason)
    try:
        record()
    except Exception as error:
        db.session.rollback()
        if not database_unavailable(error):
            raise
        _unrecorded_disconnections.add(current_app._get_current_object(), (charge_point_id, connected_at),
                                       record, error)


def _record_seen(charge_point_id, at) -> None:
    """Best effort: last seen is bookkeeping; a failure to write it must neither close the connection nor
    keep the message from its answer (the message's own writes decide that)."""
    try:
        charge_points.record_seen(charge_point_id, at)
        _unseen.succeeded()
    except Exception as error:
        db.session.rollback()
        _unseen.failed(error)
    finally:
        db.session.remove()


sock.route("/<charge_point_id>", bp=bp, endpoint="charge_point")(serve_charge_point)
sock.route("/ocpp/<charge_point_id>", bp=bp, endpoint="charge_point_under_ocpp")(serve_charge_point)
