"""Reservations past their expiryDate are marked Expired (the charge point ends them by itself)."""
from app.services import reservations
from app.tasks import job
from app.timeutil import utcnow


@job
def expire_reservations() -> dict:
    return {"expired": reservations.expire(utcnow())}
