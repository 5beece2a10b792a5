"""Operator console accounts: who may sign in, with which role, and the console's session signing key.

Passwords are salted scrypt hashes (werkzeug). scrypt is slow on purpose, so it runs in gevent's thread
pool: a sign-in must not hold the hub (and every charge point of the process) for tens of milliseconds.
"""
import functools
import secrets

import gevent
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ServerSecret, User
from app.services.errors import Conflict, Invalid, NotFound
from app.timeutil import utcnow

ADMIN, OPERATOR, VIEWER = "admin", "operator", "viewer"
ROLES = (ADMIN, OPERATOR, VIEWER)
# What each role may do besides reading: a role holds the rights of those after it.
RANK = {VIEWER: 0, OPERATOR: 1, ADMIN: 2}
MIN_PASSWORD = 8
MAX_NAME = 64


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the account does not exist, so that a wrong name costs as long as a wrong
    password. Made at first use: a hash is a tenth of a second, which every worker's start would wait for."""
    return generate_password_hash("not a password of anyone")


def _off_hub(function, *args):
    return gevent.get_hub().threadpool.apply(function, args)


def problems(name: str, role: str, password: str | None) -> dict[str, list[str]]:
    """Field errors of a new account, by field (empty when it can be made)."""
    errors: dict[str, list[str]] = {}
    if not name or len(name) > MAX_NAME or not name.isprintable() or name != name.strip():
        errors["name"] = [f"1 to {MAX_NAME} printable characters, without spaces around"]
    if role not in ROLES:
        errors["role"] = ["one of " + ", ".join(ROLES)]
    if password is not None and len(password) < MIN_PASSWORD:
        errors["password"] = [f"at least {MIN_PASSWORD} characters"]
    return errors


def create(name: str, role: str, password: str) -> User:
    """Make an account; raises Invalid (field errors) or Conflict (the name is taken)."""
    errors = problems(name, role, password)
    if errors:
        raise Invalid("the account is not valid", errors)
    user = User(name=name, role=role, password_hash=_off_hub(generate_password_hash, password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"an account named {name!r} exists", {"name": ["taken"]}) from None
    return user


def authenticate(name: str, password: str) -> User | None:
    """The account when the password is right, else None (after the same work either way)."""
    user = db.session.scalar(select(User).where(User.name == name))
    known_hash = user.password_hash if user else _off_hub(_dummy_hash)
    if not _off_hub(check_password_hash, known_hash, password) or user is None:
        return None
    user.last_sign_in_at = utcnow()
    db.session.commit()
    return user


def get(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def require(user_id: int) -> User:
    user = get(user_id)
    if user is None:
        raise NotFound(f"account {user_id} is not known")
    return user


def listing() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.name)))


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def change(user_id: int, role: str | None = None, password: str | None = None) -> User:
    user = require(user_id)
    errors = problems(user.name, role or user.role, password)
    if errors:
        raise Invalid("the account is not valid", errors)
    if role is not None:
        user.role = role
    if password is not None:
        user.password_hash = _off_hub(generate_password_hash, password)
    db.session.commit()
    return user


def delete(user_id: int) -> str:
    user = require(user_id)
    name = user.name
    db.session.delete(user)
    db.session.commit()
    return name


def may(role: str, needed: str) -> bool:
    """Whether `role` holds the rights of `needed`."""
    return RANK.get(role, -1) >= RANK[needed]


def server_secret(name: str) -> str:
    """A random secret made once and kept in the database, the same for every process."""
    secret = db.session.get(ServerSecret, name)
    if secret is None:
        db.session.add(ServerSecret(name=name, value=secrets.token_urlsafe(48)))
        try:
            db.session.commit()
        except IntegrityError:  # another process made it first
            db.session.rollback()
        secret = db.session.get(ServerSecret, name)
    return secret.value
