"""The last known configuration of each charge point, from its answers to GetConfiguration and
ChangeConfiguration: an operator sees it without asking the charge point again."""
from sqlalchemy import select

from app.database import prepared
from app.extensions import db
from app.models import ConfigurationKey
from app.services.system_log import SECRET_CONFIGURATION_KEYS
from app.timeutil import utcnow

CHANGED = frozenset({"Accepted", "RebootRequired"})


@prepared
def _upsert(dialect):
    statement = dialect.insert(ConfigurationKey.__table__)
    return statement.on_conflict_do_update(
        index_elements=["charge_point_id", "key"],
        set_={"value": statement.excluded.value, "readonly": statement.excluded.readonly,
              "updated_at": statement.excluded.updated_at})


def _stored_value(key: str, value: str | None) -> str | None:
    return "***" if key in SECRET_CONFIGURATION_KEYS and value is not None else value


def record_reported(charge_point_id: str, payload: dict, reply: dict) -> None:
    """GetConfiguration's answer: each key with its value and readonly flag."""
    now = utcnow()
    rows = [{"charge_point_id": charge_point_id, "key": entry["key"], "value": _stored_value(entry["key"], entry.get("value")),
             "readonly": entry.get("readonly"), "updated_at": now} for entry in reply.get("configurationKey", [])]
    if rows:
        db.session.execute(_upsert(), rows)
        db.session.commit()


def record_changed(charge_point_id: str, payload: dict, reply: dict) -> None:
    """ChangeConfiguration: the value stands once the charge point accepted it."""
    if reply.get("status") not in CHANGED:
        return
    db.session.execute(_upsert(), [{"charge_point_id": charge_point_id, "key": payload["key"],
                                    "value": _stored_value(payload["key"], payload["value"]), "readonly": False,
                                    "updated_at": utcnow()}])
    db.session.commit()


def last_known(charge_point_id: str) -> list[ConfigurationKey]:
    return list(db.session.scalars(select(ConfigurationKey).where(ConfigurationKey.charge_point_id == charge_point_id)
                                   .order_by(ConfigurationKey.key)))


def positive_integer(charge_point_id: str, key: str) -> int | None:
    """A key's last known value as a positive integer (e.g. SendLocalListMaxLength); None where unknown."""
    known = db.session.get(ConfigurationKey, (charge_point_id, key))
    if known is None or known.value is None:
        return None
    try:
        number = int(known.value)
    except ValueError:  # not a number (or a secret key, stored masked)
        return None
    return number if number > 0 else None
