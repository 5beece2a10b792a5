"""Offline transaction monitoring: running transactions of charge points that went offline."""
from flask import current_app

from app.services import charging, system_log
from app.tasks import job
from app.timeutil import utcnow

CLOSE_REASON = "OfflineTimeout"


@job
def monitor_offline_transactions() -> dict:
    """Flag a running transaction whose charge point is offline past OFFLINE_TRANSACTION_TIMEOUT; close
    it at its last known meter reading past OFFLINE_TRANSACTION_CLOSE_AFTER. The charge point's own
    StopTransaction, when it comes back, corrects it."""
    config, now = current_app.config, utcnow()
    flagged = closed = 0
    for transaction, offline_since in charging.running_while_offline(now, config["OFFLINE_TRANSACTION_TIMEOUT"]):
        offline_for = (now - offline_since).total_seconds()
        if offline_for >= config["OFFLINE_TRANSACTION_CLOSE_AFTER"]:
            if charging.close_offline(transaction, offline_since, CLOSE_REASON):
                closed += 1
                system_log.warning("transaction_closed_offline",
                                   f"transaction {transaction.id} closed at {transaction.meter_stop} Wh: its charge "
                                   f"point has been offline for {round(offline_for)} s",
                                   charge_point_id=transaction.charge_point_id,
                                   details={"transactionId": transaction.id})
        elif charging.flag_offline(transaction, now):
            flagged += 1
            system_log.warning("transaction_offline",
                               f"transaction {transaction.id} is running while its charge point has been offline "
                               f"for {round(offline_for)} s", charge_point_id=transaction.charge_point_id,
                               details={"transactionId": transaction.id})
    return {"flagged": flagged, "closed": closed}
