"""The offline transaction monitor at fleet scale (a server that held a thousand charging sessions
crashed): every transaction flagged and closed, each with its WARNING once, in batches that leave the
hub free, as the in-process runner runs the job."""
from datetime import timedelta

import gevent

from app.extensions import db
from app.models import ChargePoint, Transaction
from app.tasks.offline_transactions import BATCH, monitor_offline_transactions
from app.timeutil import utcnow
from tests.tasks.test_heartbeat_timeout import app, count, monitored_hub, waits_yield  # noqa: F401 (app: the fixture)

OFFLINE = 1000


def insert_offline_transactions(count: int) -> None:
    started = utcnow() - timedelta(days=3)
    db.session.execute(ChargePoint.__table__.insert(), [
        {"id": f"GONE-{n:05d}", "connected_at": started, "disconnected_at": started + timedelta(days=1),
         "created_at": started, "updated_at": started} for n in range(count)])
    db.session.execute(Transaction.__table__.insert(), [
        {"charge_point_id": f"GONE-{n:05d}", "connector_id": 1, "id_tag": "TAG", "id_tag_status": "Accepted",
         "start_timestamp": started, "meter_start": n, "created_at": started, "updated_at": started}
        for n in range(count)])
    db.session.commit()


def run_job(app) -> dict:
    def in_context():
        with app.app_context():
            return monitor_offline_transactions()
    return gevent.spawn(in_context).get(timeout=300)


def test_a_thousand_offline_transactions_are_closed_in_batches_without_blocking(app):
    insert_offline_transactions(OFFLINE)
    with waits_yield(), monitored_hub() as blocking:
        outcome = run_job(app)
    assert outcome == {"flagged": OFFLINE, "closed": OFFLINE}
    assert blocking == [], blocking[0][-6000:] if blocking else ""
    assert count("SELECT count(*) FROM transactions WHERE stop_reason = 'OfflineTimeout' AND meter_stop = "
                 "meter_start AND offline_flagged_at IS NOT NULL") == OFFLINE
    for event in ("transaction_offline", "transaction_closed_offline"):
        assert count(f"SELECT count(DISTINCT charge_point_id) FROM system_logs WHERE event = '{event}'") == OFFLINE
        assert count(f"SELECT count(*) FROM system_logs WHERE event = '{event}'") == OFFLINE
    assert run_job(app) == {"flagged": 0, "closed": 0}  # a second run: nothing twice
    assert count("SELECT count(*) FROM system_logs WHERE event LIKE 'transaction_%offline'") == 2 * OFFLINE
    assert OFFLINE > BATCH
