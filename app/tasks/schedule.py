"""Every periodic job, its interval setting, queue and time limit: the one place that says what runs when."""
from dataclasses import dataclass
from typing import Callable

from app.services.backups import TIME_LIMIT as BACKUP_TIME_LIMIT
from app.tasks.backups import backup_database
from app.tasks.heartbeats import check_heartbeats
from app.tasks.meters import collect_meter_values
from app.tasks.offline_transactions import monitor_offline_transactions
from app.tasks.reservations import expire_reservations

QUEUE, BACKUP_QUEUE = "ocpp", "ocpp-backups"
QUEUES = (QUEUE, BACKUP_QUEUE)


@dataclass(frozen=True)
class PeriodicJob:
    function: Callable
    interval_setting: str    # the setting (seconds) between runs
    queue: str = QUEUE
    timeout: int = 300       # seconds a run may take before RQ stops it


PERIODIC_JOBS = (
    PeriodicJob(collect_meter_values, "METER_COLLECTION_INTERVAL"),
    PeriodicJob(check_heartbeats, "HEARTBEAT_CHECK_INTERVAL"),
    PeriodicJob(monitor_offline_transactions, "OFFLINE_CHECK_INTERVAL"),
    PeriodicJob(expire_reservations, "RESERVATION_CHECK_INTERVAL"),
    PeriodicJob(backup_database, "BACKUP_INTERVAL", queue=BACKUP_QUEUE, timeout=BACKUP_TIME_LIMIT),
)
