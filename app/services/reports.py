"""Energy reports: what was delivered between two days (UTC, inclusive), in total, per charge point, per day."""
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from app.models import Transaction
from app.services import charging


def energy_report(start_date: date, end_date: date) -> dict:
    """Transactions that started from start_date 00:00 to end_date 24:00 UTC; running ones count up to
    their last energy register reading."""
    start = datetime.combine(start_date, time.min, tzinfo=timezone.utc)
    end = datetime.combine(end_date + timedelta(days=1), time.min, tzinfo=timezone.utc)
    transactions = db.session.scalars(
        select(Transaction).where(Transaction.start_timestamp >= start, Transaction.start_timestamp < end)
        .order_by(Transaction.start_timestamp, Transaction.id)).all()
    energy_wh = charging.energy_delivered_wh(transactions)
    by_charge_point, by_day = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for transaction in transactions:
        for totals in (by_charge_point[transaction.charge_point_id], by_day[transaction.start_timestamp.date()]):
            totals[0] += energy_wh[transaction.id]
            totals[1] += 1
    complete = sum(1 for transaction in transactions if transaction.is_complete)
    return {
        "start_date": start_date,
        "end_date": end_date,
        "total_energy_delivered": charging.kwh(sum(energy_wh.values())),
        "transaction_count": len(transactions),
        "complete_transactions": complete,
        "incomplete_transactions": len(transactions) - complete,
        "by_charge_point": [{"charge_point_id": key, "energy_delivered": charging.kwh(wh), "transaction_count": n}
                            for key, (wh, n) in sorted(by_charge_point.items())],
        "by_day": [{"date": key, "energy_delivered": charging.kwh(wh), "transaction_count": n}
                   for key, (wh, n) in sorted(by_day.items())],
        "transactions": [{**transaction.as_dict(), "transaction_id": transaction.id,
                          "energy_delivered": charging.kwh(energy_wh[transaction.id]),
                          "complete": transaction.is_complete} for transaction in transactions],
    }
