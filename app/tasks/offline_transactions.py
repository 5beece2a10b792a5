"""Offline transaction monitoring: running transactions of charge points that went offline.

In batches: each transaction's changes and the WARNINGs saying so are committed together, one commit
per batch, then a yield to the hub. A run killed in the middle leaves whole batches done and the rest
untouched; the next run, which skips what is done, does the rest, each change logged once.
"""
from datetime import datetime

import gevent
from flask import current_app

from app.extensions import db
from app.services import charging, system_log
from app.tasks import job
from app.spec.datatypes import parse_timestamp
from app.timeutil import utcnow

CLOSE_REASON = "OfflineTimeout"
BATCH = 50


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
    flagged = closed = after = 0
    while batch := charging.running_while_offline(now, config["OFFLINE_TRANSACTION_TIMEOUT"], after, BATCH):
        after = batch[-1][0].id
        counts = _flag_and_close(batch, now, config["OFFLINE_TRANSACTION_CLOSE_AFTER"])
        flagged, closed = flagged + counts[0], closed + counts[1]
        gevent.sleep(0)
    return {"flagged": flagged, "closed": closed}


def _flag_and_close(batch: list, now: datetime, close_after: float) -> tuple[int, int]:
    """Flag (and past `close_after`, close) the batch's transactions, with a WARNING for each change, in
    one commit; how many flagged and closed (not those another run or the charge point did first)."""
    flagged = charging.flag_offline([transaction.id for transaction, _ in batch], now)
    closed = charging.close_offline([(transaction, since) for transaction, since in batch
                                     if (now - since).total_seconds() >= close_after], CLOSE_REASON)
    warnings = []
    for transaction, since in batch:
        offline_for = round((now - since).total_seconds())
        if transaction.id in flagged:
            warnings.append(_warning(transaction, "transaction_offline", f"transaction {transaction.id} is running "
                                     f"while its charge point has been offline for {offline_for} s"))
        if transaction.id in closed:
            warnings.append(_warning(transaction, "transaction_closed_offline", f"transaction {transaction.id} "
                                     f"closed at {closed[transaction.id]} Wh: its charge point has been offline "
                                     f"for {offline_for} s"))
    system_log.store_many(warnings)
    db.session.commit()
    return len(flagged), len(closed)


def _warning(transaction, event: str, message: str) -> dict:
    return system_log.entry(system_log.WARNING, event, message, charge_point_id=transaction.charge_point_id,
                            details={"transactionId": transaction.id})
