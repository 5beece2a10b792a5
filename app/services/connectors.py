"""Connector status (StatusNotification): the latest per connector, and the history of every report."""
from datetime import datetime

from sqlalchemy import or_

from app.database import insert
from app.extensions import db
from app.models import Connector, ConnectorStatusChange


def record_status(charge_point_id: str, connector_id: int, status: str, error_code: str,
                  timestamp: datetime, received_at: datetime, info: str | None = None,
                  vendor_id: str | None = None, vendor_error_code: str | None = None) -> None:
    """Keep the report in the history; make it the connector's status unless a later one is known.

    Both writes are idempotent upserts: a retried or late StatusNotification neither duplicates the
    history nor overwrites a newer status.
    """
    fields = dict(status=status, error_code=error_code, info=info, vendor_id=vendor_id,
                  vendor_error_code=vendor_error_code)
    db.session.execute(
        insert(ConnectorStatusChange)
        .values(charge_point_id=charge_point_id, connector_id=connector_id, timestamp=timestamp,
                received_at=received_at, **fields)
        .on_conflict_do_nothing())
    upsert = insert(Connector).values(charge_point_id=charge_point_id, connector_id=connector_id,
                                      status_timestamp=timestamp, updated_at=received_at, **fields)
    db.session.execute(upsert.on_conflict_do_update(
        index_elements=["charge_point_id", "connector_id"],
        set_={**{name: upsert.excluded[name] for name in fields},
              "status_timestamp": upsert.excluded.status_timestamp,
              "updated_at": upsert.excluded.updated_at},
        where=or_(Connector.status_timestamp.is_(None),
                  Connector.status_timestamp <= upsert.excluded.status_timestamp)))
    db.session.commit()
