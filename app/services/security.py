"""Charge point authentication at the WebSocket handshake (OCPP 1.6 Security Whitepaper, profiles 0-3),
and the charge points' passwords (AuthorizationKey).

Passwords are kept as salted scrypt hashes (werkzeug). scrypt is slow on purpose (tens of ms), which
a reconnect storm of thousands of charge points would multiply; so a password once verified is
remembered in this process as its SHA-256 beside the stored hash, and compared in constant time: a
changed password (another stored hash) is verified with scrypt again.

A password is changed in one operation (change_authorization_key): ChangeConfiguration(AuthorizationKey)
to the charge point, and only when it accepts, the new hash is stored; the old one stays valid until the
charge point has once authenticated with the new one, so that neither order of events locks it out.
"""
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import update
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ChargePoint
from app.services import commands, configuration, lookups, system_log
from app.spec.failures import CommandFailed

MIN_PASSWORD, MAX_PASSWORD = 16, 40  # the Security Whitepaper's AuthorizationKey length
AUTHORIZATION_KEY = "AuthorizationKey"

_verified: dict[str, tuple[str, bytes]] = {}  # charge point id -> (stored hash, SHA-256 of the password)


@dataclass(frozen=True)
class Credentials:
    """What a charge point presented at the handshake."""
    username: str | None
    password: str | None
    tls: bool
    certificate_common_name: str | None


def profile_of(charge_point: ChargePoint | None) -> int:
    if charge_point is not None and charge_point.security_profile is not None:
        return charge_point.security_profile
    return current_app.config["OCPP_SECURITY_PROFILE"]


def refusal(charge_point_id: str, charge_point: ChargePoint | None, credentials: Credentials) -> str | None:
    """Why the handshake must be refused (for the log, never for the charge point), or None."""
    profile = profile_of(charge_point)
    if profile >= 2 and not credentials.tls:
        return f"security profile {profile} needs TLS"
    if profile == 3:
        if credentials.certificate_common_name is None:
            return "no client certificate"
        if credentials.certificate_common_name != charge_point_id:
            return f"client certificate for {credentials.certificate_common_name!r}"
        return None
    if profile in (1, 2):
        if credentials.password is None:
            return "no Basic credentials"
        if credentials.username != charge_point_id:
            return "Basic username is not the charge point id"
        if charge_point is None or not charge_point.password_hash:
            return "no password is set for this charge point"
        if not _password_accepted(charge_point, credentials.password):
            return "wrong password"
    return None


def _password_accepted(charge_point: ChargePoint, password: str) -> bool:
    """The current password; or the one before a change, until the current one has been used once."""
    if password_matches(charge_point, password):
        if charge_point.previous_password_hash is not None:
            _discard_previous_password(charge_point)
        return True
    return charge_point.previous_password_hash is not None and \
        check_password_hash(charge_point.previous_password_hash, password)


def _discard_previous_password(charge_point: ChargePoint) -> None:
    db.session.execute(update(ChargePoint).where(ChargePoint.id == charge_point.id,
                                                 ChargePoint.password_hash == charge_point.password_hash)
                       .values(previous_password_hash=None))
    system_log.info("charge_point_password", "authenticated with the new password: the previous one is discarded",
                    charge_point_id=charge_point.id)  # commits both


def password_matches(charge_point: ChargePoint, password: str) -> bool:
    digest = hashlib.sha256(password.encode()).digest()
    remembered = _verified.get(charge_point.id)
    if remembered is not None and remembered[0] == charge_point.password_hash:
        return hmac.compare_digest(remembered[1], digest)
    if not check_password_hash(charge_point.password_hash, password):
        return False
    _verified[charge_point.id] = (charge_point.password_hash, digest)
    return True


def set_password(charge_point: ChargePoint, password: str | None) -> None:
    """Store the password's hash (None removes it), the only one valid from now on; the caller commits."""
    charge_point.password_hash = generate_password_hash(password, method="scrypt") if password else None
    charge_point.previous_password_hash = None
    _verified.pop(charge_point.id, None)


def change_authorization_key(charge_point_id: str, password: str) -> "commands.CommandOutcome":
    """Change the password in one operation: ChangeConfiguration(AuthorizationKey) to the charge point;
    where it accepts, the new password is stored and the old one stays valid until the new one is used.

    A refusal leaves the old password alone (the outcome says so); so does a CommandFailed (no answer,
    a CALLERROR, not connected), which is raised with that said."""
    try:
        outcome = commands.change_configuration(charge_point_id, AUTHORIZATION_KEY, password)
    except CommandFailed as failure:
        system_log.warning("charge_point_password", f"password unchanged: {failure}", charge_point_id=charge_point_id)
        failure.args = (f"{failure}; the password is unchanged",)
        raise
    if outcome.status not in configuration.CHANGED:
        outcome.message += "; the password is unchanged"
        system_log.warning("charge_point_password", f"password unchanged: the charge point answered "
                           f"{outcome.status}", charge_point_id=charge_point_id)
        return outcome
    charge_point = lookups.charge_point(charge_point_id)
    previous = charge_point.password_hash
    set_password(charge_point, password)
    charge_point.previous_password_hash = previous
    db.session.commit()
    outcome.message += "; the new password is stored" + \
        ("; the old one is accepted until the charge point has connected with the new one" if previous else "")
    system_log.info("charge_point_password", "password changed (ChangeConfiguration AuthorizationKey accepted)",
                    charge_point_id=charge_point_id)
    return outcome


def forget(charge_point_id: str) -> None:
    _verified.pop(charge_point_id, None)


def certificate_common_name(peer_certificate: dict | None) -> str | None:
    """The subject's commonName of a certificate as ssl.SSLSocket.getpeercert() gives it."""
    for relative_name in (peer_certificate or {}).get("subject", ()):
        for key, value in relative_name:
            if key == "commonName":
                return value
    return None
