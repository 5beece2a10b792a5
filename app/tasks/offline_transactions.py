"""Offline transaction monitoring: running transactions of charge points that went offline."""
from datetime import datetime

from flask import current_app

from app.services import charging, system_log
from app.tasks import job
from app.spec.datatypes import parse_timestamp
from app.timeutil import utcnow

CLOSE_REASON = "OfflineTimeout"


@job
def monitor_offline_transactions(now: datetime | str | None = None) -> dict:
    """Flag a running transaction whose charge point is offline past OFFLINE_TRANSACTION_TIMEOUT; close
    it at its last known meter reading past OFFLINE_TRANSACTION_CLOSE_AFTER. The charge point's own
    StopTransaction, when it comes back, corrects it.

    A transaction first found past the close limit (the job did not run, or ran late) is flagged and
    closed in the same run: its record keeps both moments, when it was found running while offline
    and when it was closed. `now` (for a run as of another moment) defaults to the current time.
    """
    config = current_app.config
    now = parse_timestamp(now) if isinstance(now, str) else (now or utcnow())
    flagged = closed = 0
    for transaction, offline_since in charging.running_while_offline(now, config["OFFLINE_TRANSACTION_TIMEOUT"]):
        offline_for = (now - offline_since).total_seconds()
        if _flag(transaction, now, offline_for):
            flagged += 1
        if offline_for >= config["OFFLINE_TRANSACTION_CLOSE_AFTER"] and _close(transaction, offline_since, offline_for):
            closed += 1
    return {"flagged": flagged, "closed": closed}


def _flag(transaction, now: datetime, offline_for: float) -> bool:
    if not charging.flag_offline(transaction, now):
        return False
    system_log.warning("transaction_offline",
                       f"transaction {transaction.id} is running while its charge point has been offline "
                       f"for {round(offline_for)} s", charge_point_id=transaction.charge_point_id,
                       details={"transactionId": transaction.id})
    return True


def _close(transaction, offline_since: datetime, offline_for: float) -> bool:
    if not charging.close_offline(transaction, offline_since, CLOSE_REASON):
        return False
    system_log.warning("transaction_closed_offline",
                       f"transaction {transaction.id} closed at {transaction.meter_stop} Wh: its charge "
                       f"point has been offline for {round(offline_for)} s",
                       charge_point_id=transaction.charge_point_id, details={"transactionId": transaction.id})
    return True
