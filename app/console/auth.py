"""Sign-in, the signed-in account, roles, CSRF tokens, and the audit of every change made in the console.

The session cookie (signed with SECRET_KEY, or a key the server made and keeps in the database) holds the
account id and a fingerprint of its password hash: a changed password or a deleted account ends its
sessions at their next request.
"""
import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from functools import wraps

import logging
from dataclasses import dataclass

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from redis.exceptions import RedisError

from app.console.blueprint import bp
from app.extensions import db, redis_client
from app.outages import FailureLog, database_unavailable
from app.services import system_log, users

logger = logging.getLogger(__name__)
_SESSION_KEY_FAILURES = FailureLog("the console's session key could not be read: the database is unavailable")

OPEN_ENDPOINTS = {"console.sign_in", "console.static"}
CSRF_FIELD = "csrf_token"
# At most this many failed sign-ins per account name, and per address (many people may share one), within
# the window (seconds).
MAX_FAILURES = {"name": 5, "address": 20}
FAILURE_WINDOW = 300
SECRET_FIELDS = {CSRF_FIELD, "password", "confirmation", "newPassword"}


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, signed with SECRET_KEY or else with a key the server made once and
    keeps in the database (the same for every process), read at the first request that needs it. The
    API and the charge points' WebSocket never use a session, nor wait for this key."""

    def open_session(self, app, request):
        if app.secret_key is None and not _sessionless(request):
            try:
                app.secret_key = app.config["SECRET_KEY"] or users.server_secret("console_session")
            except Exception as error:
                db.session.rollback()
                if not database_unavailable(error):
                    raise
                _SESSION_KEY_FAILURES.failed(error)  # no session now; the next request tries again
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        # Under OCPP_USE_TLS, and wherever the request came over TLS (a proxy's X-Forwarded-Proto, trusted
        # with FORWARDED_ALLOW_IPS as on Heroku): the cookie never travels in clear after that.
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


# Paths that are not the console's. (The session opens before the URL is matched to a blueprint.)
_NOT_CONSOLE = ("/api/", "/healthz", "/readyz", "/metrics")


def _sessionless(request) -> bool:
    """Only the console's pages have a session: the API, the charge points' WebSocket and the health
    probes never read the key (nor fail with the database that keeps it)."""
    return request.path.startswith(_NOT_CONSOLE) or "HTTP_UPGRADE" in request.environ


@bp.before_request
def require_sign_in():
    g.user = _signed_in_user()
    if request.method == "POST":
        _check_csrf()
        if any("\x00" in value for value in request.form.values()):
            abort(400, description="A field holds a NUL character.")
    if g.user is None and request.endpoint not in OPEN_ENDPOINTS:
        if request.method == "GET" and request.endpoint != "console.live":
            return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
        abort(401)
    return None


@bp.after_request
def audit_changes(response):
    """Every change made through the console is in the system log with the account that made it."""
    if request.method == "POST" and g.get("user") is not None and request.endpoint != "console.sign_out":
        fields = {key: value for key, value in request.form.items() if key not in SECRET_FIELDS}
        system_log.info("console_action", f"{g.user.name} ({g.user.role}): POST {request.path} -> "
                        f"{response.status_code}", details={"account": g.user.name, "form": fields})
    return response


def _fingerprint(user) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Account:
    """Who is signed in, read once per request: a plain value, which outlives the request's database
    session (a command closes it while it waits for the charge point)."""
    id: int
    name: str
    role: str


def _signed_in_user() -> Account | None:
    user_id, fingerprint = session.get("user_id"), session.get("fingerprint")
    if not isinstance(user_id, int) or not isinstance(fingerprint, str):
        return None
    user = users.get(user_id)
    if user is None or not hmac.compare_digest(_fingerprint(user), fingerprint):
        session.pop("user_id", None)
        return None
    return Account(user.id, user.name, user.role)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf() -> None:
    sent, expected = request.form.get(CSRF_FIELD, ""), session.get("csrf")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form's security token is missing or out of date: reload the page and try again.")


def requires(role: str):
    """A view only accounts of `role` (or a higher one) may use; others get 403."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not users.may(g.user.role, role):
                abort(403, description=f"Your account ({g.user.role}) may not do this; it needs the {role} role.")
            return view(*args, **kwargs)
        return guarded
    return decorate


def may(role: str) -> bool:
    """For templates: whether the signed-in account may do what `role` may."""
    user = g.get("user")
    return user is not None and users.may(user.role, role)


class SignInThrottle:
    """Counts failed sign-ins per key (address, account name) over a window; in Redis where there is one,
    so that every process counts together."""

    def __init__(self):
        self._failures: dict[str, deque] = defaultdict(deque)

    def blocked_for(self, keys: list[str]) -> int:
        """Seconds until these keys may try again (0: now)."""
        return max(self._wait(key) for key in keys)

    def fail(self, keys: list[str]) -> None:
        for key in keys:
            redis = self._redis()
            if redis is not None:
                try:
                    with redis.pipeline() as pipe:
                        pipe.incr(f"ocpp:sign-in:{key}").expire(f"ocpp:sign-in:{key}", FAILURE_WINDOW).execute()
                    continue
                except RedisError:
                    pass
            self._failures[key].append(time.monotonic())

    def _wait(self, key: str) -> int:
        redis = self._redis()
        if redis is not None:
            try:
                count = int(redis.get(f"ocpp:sign-in:{key}") or 0)
                return max(1, redis.ttl(f"ocpp:sign-in:{key}")) if count >= _limit(key) else 0
            except RedisError:
                pass
        failures = self._failures[key]
        while failures and time.monotonic() - failures[0] > FAILURE_WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[key]
        if len(failures) < _limit(key):
            return 0
        return int(FAILURE_WINDOW - (time.monotonic() - failures[0])) + 1

    @staticmethod
    def _redis():
        return redis_client(current_app) if current_app.config["REDIS_URL"] else None


def _limit(key: str) -> int:
    return MAX_FAILURES[key.partition(":")[0]]


throttle = SignInThrottle()


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_page = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("sign_in.html", next=next_page, first_account=users.count() == 0)
    name, password = request.form.get("name", ""), request.form.get("password", "")
    keys = [f"address:{request.remote_addr}", f"name:{name[:64]}"]
    wait = throttle.blocked_for(keys)
    if wait:
        system_log.warning("console_sign_in_throttled", f"sign-in as {name[:64]!r} from {request.remote_addr} "
                           f"refused: too many failures")
        return render_template("sign_in.html", next=next_page, name=name,
                               error=f"Too many failed attempts. Try again in {wait} seconds."), 429
    user = users.authenticate(name, password) if name and password else None
    if user is None:
        throttle.fail(keys)
        system_log.warning("console_sign_in_failed", f"failed sign-in as {name[:64]!r} from {request.remote_addr}")
        return render_template("sign_in.html", next=next_page, name=name,
                               error="The name or the password is not right."), 401
    session.clear()
    session.permanent = True
    session.update(user_id=user.id, fingerprint=_fingerprint(user), csrf=secrets.token_urlsafe(32))
    system_log.info("console_sign_in", f"{user.name} ({user.role}) signed in from {request.remote_addr}",
                    details={"account": user.name})
    return redirect(next_page or url_for("console.overview"))


@bp.post("/sign-out")
def sign_out():
    system_log.info("console_sign_out", f"{g.user.name} signed out", details={"account": g.user.name})
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("console.sign_in"))


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (never //host or a scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
