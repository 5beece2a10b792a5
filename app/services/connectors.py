"""Connector status (StatusNotification): the latest per connector, and the history of every report."""
from datetime import datetime

from sqlalchemy import or_, select

from app import events
from app.database import prepared
from app.extensions import db
from app.group_commit import commit_together
from app.models import Connector, ConnectorStatusChange, Transaction
from app.services import meter_values


@prepared
def _status_statements(dialect):
    fields = ("status", "error_code", "info", "vendor_id", "vendor_error_code")
    history = dialect.insert(ConnectorStatusChange.__table__).on_conflict_do_nothing()
    upsert = dialect.insert(Connector.__table__)
    upsert = upsert.on_conflict_do_update(
        index_elements=["charge_point_id", "connector_id"],
        set_={name: upsert.excluded[name] for name in (*fields, "status_timestamp", "updated_at")},
        where=or_(Connector.status_timestamp.is_(None), Connector.status_timestamp <= upsert.excluded.status_timestamp))
    return history, upsert


def record_status(charge_point_id: str, connector_id: int, status: str, error_code: str,
                  timestamp: datetime, received_at: datetime, info: str | None = None,
                  vendor_id: str | None = None, vendor_error_code: str | None = None) -> None:
    """Keep the report in the history; make it the connector's status unless a later one is known.

    Both writes are idempotent upserts: a retried or late StatusNotification neither duplicates the
    history nor overwrites a newer status.
    """
    report = dict(charge_point_id=charge_point_id, connector_id=connector_id, status=status,
                  error_code=error_code, info=info, vendor_id=vendor_id, vendor_error_code=vendor_error_code)
    history, upsert = _status_statements()
    commit_together((history, {**report, "timestamp": timestamp, "received_at": received_at}),
                    (upsert, {**report, "status_timestamp": timestamp, "updated_at": received_at}))
    events.publish(events.STATUS, **report)


def station_statuses(charge_point_ids: list[str]) -> dict[str, str]:
    """The status of connector 0 (the charge point as a whole) of each charge point that reported one."""
    if not charge_point_ids:
        return {}
    rows = db.session.execute(select(Connector.charge_point_id, Connector.status).where(
        Connector.charge_point_id.in_(charge_point_ids), Connector.connector_id == 0))
    return {charge_point_id: status for charge_point_id, status in rows}


def states(charge_point_id: str) -> list[dict]:
    """The charge point's connectors, each with its running transaction and that one's latest power (W)."""
    connectors = db.session.scalars(select(Connector).where(Connector.charge_point_id == charge_point_id)
                                    .order_by(Connector.connector_id)).all()
    running = {transaction.connector_id: transaction.id for transaction in db.session.scalars(
        select(Transaction).where(Transaction.charge_point_id == charge_point_id,
                                  Transaction.stop_timestamp.is_(None)))}
    power = meter_values.latest_samples(running.values(), meter_values.POWER)
    result = []
    for connector in connectors:
        transaction_id = running.get(connector.connector_id)
        sample = power.get(transaction_id)
        result.append({**connector.as_dict(), "current_transaction_id": transaction_id,
                       "current_power": meter_values.power_w(sample) if sample is not None else None})
    return result
