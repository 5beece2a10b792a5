"""Rows the domain tests start from, written through the models (each test with its own charge point id)."""
from datetime import timedelta

from app.extensions import db
from app.models import ChargePoint, IdTag
from app.timeutil import utcnow
from tests.charge_points import new_id


def charge_point() -> str:
    charge_point_id = new_id()
    db.session.add(ChargePoint(id=charge_point_id))
    db.session.commit()
    return charge_point_id


def id_tag(status: str = "Accepted", parent: str | None = None, expires_in: float | None = None) -> str:
    tag = new_id("")[-12:]
    expiry_date = None if expires_in is None else utcnow() + timedelta(seconds=expires_in)
    db.session.add(IdTag(id_tag=tag, status=status, parent_id_tag=parent, expiry_date=expiry_date))
    db.session.commit()
    return tag
