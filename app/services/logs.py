"""Reading the system log, newest first."""
from sqlalchemy import select

from app.extensions import db
from app.models import SystemLog


def find(charge_point_id: str | None = None, level: str | None = None, limit: int = 100,
         offset: int = 0) -> list[SystemLog]:
    query = select(SystemLog).order_by(SystemLog.timestamp.desc(), SystemLog.id.desc()).limit(limit).offset(offset)
    if charge_point_id is not None:
        query = query.where(SystemLog.charge_point_id == charge_point_id)
    if level is not None:
        query = query.where(SystemLog.level == level)
    return list(db.session.scalars(query))
