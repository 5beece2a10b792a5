"""API keys: configured (API_KEYS) or made with `flask api-key create` (stored as SHA-256)."""
import hashlib
import hmac
import secrets
import time

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import ApiKey
from app.outages import database_unavailable
from app.services.errors import Conflict
from app.timeutil import utcnow

_stored_count: tuple[float, int] = (0.0, 0)  # (when counted, how many): counted at most every few seconds


def create(name: str) -> str:
    """Make a key named `name`; the key itself is shown once and never stored."""
    if db.session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise Conflict(f"an API key named {name!r} exists")
    key = "ocpp_" + secrets.token_urlsafe(32)
    db.session.add(ApiKey(name=name, key_hash=_digest(key)))
    db.session.commit()
    _forget_count()
    return key


def revoke(name: str) -> bool:
    key = db.session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        return False
    db.session.delete(key)
    db.session.commit()
    _forget_count()
    return True


def names() -> list[str]:
    return list(db.session.scalars(select(ApiKey.name).order_by(ApiKey.name)))


def required() -> bool:
    """Whether the API asks for a key: some are configured or stored."""
    global _stored_count
    if current_app.config["CONFIGURED_API_KEYS"]:
        return True
    counted_at, count = _stored_count
    if time.monotonic() - counted_at > 5:
        try:
            count = db.session.scalar(select(func.count()).select_from(ApiKey))
        except SQLAlchemyError as error:
            if counted_at == 0.0 or not database_unavailable(error):
                raise  # never counted: whether a key is needed cannot be told
            db.session.rollback()  # the last count holds while the database is away (/api/status answers)
        else:
            _stored_count = (time.monotonic(), count)
    return count > 0


def holder(key: str) -> str | None:
    """The name of whoever holds `key`, or None when it is no key of ours."""
    for index, configured in enumerate(current_app.config["CONFIGURED_API_KEYS"], start=1):
        if hmac.compare_digest(configured.encode(), key.encode()):
            return f"API_KEYS #{index}"
    stored = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(key)))
    if stored is None:
        return None
    now = utcnow()
    if stored.last_used_at is None or (now - stored.last_used_at).total_seconds() > 60:
        stored.last_used_at = now  # to the minute: a write per request is not worth it
        db.session.commit()
    return stored.name


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _forget_count() -> None:
    global _stored_count
    _stored_count = (0.0, 0)
