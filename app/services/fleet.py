"""What the operator console reads at a glance: fleet totals, energy by day, and the searchable, paged
lists of charge points, transactions and log lines. Set-based queries, one page at a time, so that a
fleet of 20,000 charge points and 100,000 transactions stays quick."""
from dataclasses import dataclass
from time import monotonic
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, distinct, func, or_, select

from app.extensions import db
from app.models import ChargePoint, Connector, FileTransferRequest, IdTag, SystemLog, Transaction
from app.services import charging, connectors
from app.services.connections import connections
from app.services.system_log import ERROR, WARNING
from app.timeutil import utcnow

CONNECTED, DISCONNECTED = "connected", "disconnected"


@dataclass
class Page:
    rows: list
    total: int
    limit: int
    offset: int

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _charging_charge_points(status: str):
    return (select(func.count(distinct(Connector.charge_point_id)))
            .where(Connector.connector_id > 0, Connector.status == status))


def totals() -> dict:
    """Charge points (total, connected, charging, faulted, offline) and running transactions."""
    total = db.session.scalar(select(func.count()).select_from(ChargePoint))
    connected = len(connections().connected_ids())
    faulted = db.session.scalar(select(func.count(distinct(Connector.charge_point_id)))
                                .where(Connector.status == "Faulted"))
    return {"charge_points": total, "connected": connected, "offline": max(total - connected, 0),
            "charging": db.session.scalar(_charging_charge_points("Charging")), "faulted": faulted,
            "active_transactions": charging.count_running()}


ENERGY_FIGURES_TTL = 30.0  # seconds an energy series is reused: live pages ask often, the sums move slowly
_energy_figures: dict[tuple[int, date], tuple[float, list[dict]]] = {}


def energy_by_day(days: int = 30) -> list[dict]:
    """kWh delivered per UTC day by the transactions that completed, by the day they started, over the last
    `days` days, oldest first; at most ENERGY_FIGURES_TTL seconds old, since every open overview asks
    again at every event. Summed in the database: running transactions count once they stop (reading
    thousands of their latest meter values would cost half a second)."""
    key = (days, utcnow().date())
    made_at, figures = _energy_figures.get(key, (0.0, None))
    if figures is None or monotonic() - made_at > ENERGY_FIGURES_TTL:
        figures = _sum_energy_by_day(days, key[1])
        _energy_figures.clear()
        _energy_figures[key] = (monotonic(), figures)
    return figures


def _sum_energy_by_day(days: int, today: date) -> list[dict]:
    first = today - timedelta(days=days - 1)
    day = func.date(Transaction.start_timestamp)
    sums = db.session.execute(
        select(day, func.sum(Transaction.meter_stop - Transaction.meter_start), func.count())
        .where(Transaction.start_timestamp >= datetime.combine(first, time.min, tzinfo=timezone.utc),
               Transaction.meter_stop.is_not(None)).group_by(day))
    by_day = {str(key)[:10]: (int(wh or 0), count) for key, wh, count in sums}
    shown = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return [{"date": key, "energy_kwh": charging.kwh(by_day.get(key, (0, 0))[0]),
             "transactions": by_day.get(key, (0, 0))[1]} for key in shown]


def latest_warnings(limit: int = 8) -> list[SystemLog]:
    return list(db.session.scalars(select(SystemLog).where(SystemLog.level.in_((WARNING, ERROR)))
                                   .order_by(SystemLog.id.desc()).limit(limit)))


def _recorded_connected():
    return and_(ChargePoint.connected_at.is_not(None),
                or_(ChargePoint.disconnected_at.is_(None), ChargePoint.disconnected_at < ChargePoint.connected_at))


def search_charge_points(text: str | None = None, status: str | None = None, connection: str | None = None,
                         limit: int = 50, offset: int = 0) -> Page:
    """Charge points whose id, vendor or model contains `text`, with a connector in `status`, connected or
    not (as recorded: the list does not ask every process), by id; each with its connectors."""
    conditions = []
    if text:
        pattern = _like(text)
        conditions.append(or_(*(func.lower(column).like(pattern, escape="\\")
                                for column in (ChargePoint.id, ChargePoint.vendor, ChargePoint.model))))
    if status:
        conditions.append(ChargePoint.id.in_(select(Connector.charge_point_id).where(Connector.status == status)))
    if connection == CONNECTED:
        conditions.append(_recorded_connected())
    elif connection == DISCONNECTED:
        conditions.append(~_recorded_connected())
    total = db.session.scalar(select(func.count()).select_from(ChargePoint).where(*conditions))
    page = db.session.scalars(select(ChargePoint).where(*conditions).order_by(ChargePoint.id)
                              .limit(limit).offset(offset)).all()
    ids = [charge_point.id for charge_point in page]
    connected = connections().connected_among(ids)
    by_charge_point: dict[str, list] = {charge_point_id: [] for charge_point_id in ids}
    if ids:
        for connector in db.session.scalars(select(Connector).where(Connector.charge_point_id.in_(ids))
                                            .order_by(Connector.charge_point_id, Connector.connector_id)):
            by_charge_point[connector.charge_point_id].append(connector)
    rows = [{"charge_point": charge_point, "is_connected": charge_point.id in connected,
             "connectors": by_charge_point[charge_point.id]} for charge_point in page]
    return Page(rows, total, limit, offset)


@dataclass
class TransactionFilter:
    charge_point_id: str | None = None
    id_tag: str | None = None
    since: date | None = None       # started on or after this UTC day
    until: date | None = None       # started on or before this UTC day
    state: str | None = None        # running, complete
    offline_flagged: bool = False

    def conditions(self) -> list:
        found = []
        if self.charge_point_id:
            found.append(Transaction.charge_point_id == self.charge_point_id)
        if self.id_tag:
            found.append(Transaction.id_tag == self.id_tag)
        if self.since:
            found.append(Transaction.start_timestamp >= datetime.combine(self.since, time.min, tzinfo=timezone.utc))
        if self.until:
            found.append(Transaction.start_timestamp < datetime.combine(self.until + timedelta(days=1), time.min,
                                                                        tzinfo=timezone.utc))
        if self.state == "running":
            found.append(Transaction.stop_timestamp.is_(None))
        elif self.state == "complete":
            found.append(Transaction.stop_timestamp.is_not(None))
        if self.offline_flagged:
            found.append(Transaction.offline_flagged_at.is_not(None))
        return found


def search_transactions(wanted: TransactionFilter, limit: int = 50, offset: int = 0) -> Page:
    """Transactions matching the filter, newest first, each described as the API describes it."""
    conditions = wanted.conditions()
    total = db.session.scalar(select(func.count()).select_from(Transaction).where(*conditions))
    page = db.session.scalars(select(Transaction).where(*conditions).order_by(Transaction.id.desc())
                              .limit(limit).offset(offset)).all()
    energy = charging.energy_delivered_wh(page)
    return Page([charging.describe(transaction, energy[transaction.id]) for transaction in page], total, limit, offset)


def transactions_in_batches(wanted: TransactionFilter, batch: int = 1000):
    """Every matching transaction, newest first, a batch at a time (for CSV export): keyset paging, so
    that each batch costs the same however deep."""
    below = None
    while True:
        conditions = wanted.conditions() + ([Transaction.id < below] if below is not None else [])
        page = db.session.scalars(select(Transaction).where(*conditions).order_by(Transaction.id.desc())
                                  .limit(batch)).all()
        if not page:
            return
        energy = charging.energy_delivered_wh(page)
        yield [charging.describe(transaction, energy[transaction.id]) for transaction in page]
        below = page[-1].id
        db.session.expunge_all()


@dataclass
class LogFilter:
    level: str | None = None
    charge_point_id: str | None = None
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list:
        found = []
        if self.level:
            found.append(SystemLog.level == self.level)
        if self.charge_point_id:
            found.append(SystemLog.charge_point_id == self.charge_point_id)
        if self.event:
            found.append(SystemLog.event == self.event)
        if self.since:
            found.append(SystemLog.timestamp >= self.since)
        if self.until:
            found.append(SystemLog.timestamp <= self.until)
        return found


def search_log(wanted: LogFilter, limit: int = 100, offset: int = 0) -> list[SystemLog]:
    return list(db.session.scalars(select(SystemLog).where(*wanted.conditions())
                                   .order_by(SystemLog.id.desc()).limit(limit).offset(offset)))


def connector_states(charge_point_id: str) -> list[dict]:
    return connectors.states(charge_point_id)


def file_transfer_requests(charge_point_id: str | None, limit: int = 100, offset: int = 0) -> list[FileTransferRequest]:
    """UpdateFirmware and GetDiagnostics sent, newest first, with the charge point's current status."""
    query = select(FileTransferRequest).order_by(FileTransferRequest.id.desc()).limit(limit).offset(offset)
    if charge_point_id:
        query = query.where(FileTransferRequest.charge_point_id == charge_point_id)
    return list(db.session.scalars(query))


def search_id_tags(text: str | None = None, limit: int = 100, offset: int = 0) -> Page:
    """idTags containing `text`, by idTag, a page at a time."""
    conditions = [func.lower(IdTag.id_tag).like(_like(text), escape="\\")] if text else []
    total = db.session.scalar(select(func.count()).select_from(IdTag).where(*conditions))
    rows = db.session.scalars(select(IdTag).where(*conditions).order_by(IdTag.id_tag).limit(limit).offset(offset)).all()
    return Page(list(rows), total, limit, offset)


def id_tag_names(limit: int = 500) -> list[str]:
    """The first idTags accepted for charging, for a picker."""
    return list(db.session.scalars(select(IdTag.id_tag).where(IdTag.status == "Accepted").order_by(IdTag.id_tag)
                                   .limit(limit)))
