"""Reading the system log, newest first."""
from sqlalchemy import select

from app.services import lookups
from app.models import SystemLog


def find(charge_point_id: str | None = None, level: str | None = None, limit: int = 100,
         offset: int = 0) -> list[SystemLog]:
    query = select(SystemLog).order_by(SystemLog.timestamp.desc(), SystemLog.id.desc())
    if charge_point_id is not None:
        query = query.where(SystemLog.charge_point_id == charge_point_id)
    if level is not None:
        query = query.where(SystemLog.level == level)
    return lookups.page(query, limit, offset)
