"""Charge point authentication at the WebSocket handshake (OCPP 1.6 Security Whitepaper, profiles 0-3),
and the charge points' passwords (AuthorizationKey).

Passwords are kept as salted scrypt hashes (werkzeug). scrypt is slow on purpose (tens of ms), which
a reconnect storm of thousands of charge points would multiply; so a password once verified is
remembered in this process as its SHA-256 beside the stored hash, and compared in constant time: a
changed password (another stored hash) is verified with scrypt again.
"""
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.models import ChargePoint

MIN_PASSWORD, MAX_PASSWORD = 16, 40  # the Security Whitepaper's AuthorizationKey length

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
        if not password_matches(charge_point, credentials.password):
            return "wrong password"
    return None


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
    """Store the password's hash (None removes it); the caller commits."""
    charge_point.password_hash = generate_password_hash(password, method="scrypt") if password else None
    _verified.pop(charge_point.id, None)


def forget(charge_point_id: str) -> None:
    _verified.pop(charge_point_id, None)


def certificate_common_name(peer_certificate: dict | None) -> str | None:
    """The subject's commonName of a certificate as ssl.SSLSocket.getpeercert() gives it."""
    for relative_name in (peer_certificate or {}).get("subject", ()):
        for key, value in relative_name:
            if key == "commonName":
                return value
    return None
