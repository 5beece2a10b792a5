"""Transactions: start, stop, meter values and energy, for OCPP handlers, the API and the jobs alike.

Charge points queue transaction messages while offline and retry those whose answer they missed, so
every function here is idempotent: a retried StartTransaction gets the transactionId already given, a
retried StopTransaction or MeterValues adds nothing, and a StopTransaction that arrives after the
central system closed the transaction corrects it with the charge point's values.
"""
from dataclasses import replace
from datetime import datetime, timedelta

from ocpp.v16.enums import AuthorizationStatus
from sqlalchemy import bindparam, case, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import events
from app.extensions import db
from app.group_commit import commit_together
from app.models import ChargePoint, MeterValue, Transaction
from app.services import authorization, lookups, meter_values, reservation_holds, system_log
from app.services.authorization import IdTagVerdict
from app.services.errors import Conflict
from app.timeutil import utcnow

STOPPED_BY_CHARGE_POINT = "ChargePoint"
STOPPED_BY_CENTRAL_SYSTEM = "CentralSystem"
DEFAULT_STOP_REASON = "Local"  # OCPP 1.6: an absent reason means Local
SUPERSEDED = "Superseded"      # a newer transaction started on the connector before this one stopped


def start_transaction(charge_point_id: str, connector_id: int, id_tag: str, meter_start: int,
                      timestamp: datetime, reservation_id: int | None = None
                      ) -> tuple[Transaction, IdTagVerdict]:
    """The transaction for this StartTransaction, and the idTagInfo to answer.

    Always gives a transactionId, whatever the idTag's status: the charge point decides what to do
    with a transaction whose idTag is not Accepted (StopTransactionOnInvalidId).
    """
    existing = _started(charge_point_id, connector_id, timestamp)
    if existing is not None:
        return existing, _verdict_given(existing)
    _close_superseded(charge_point_id, connector_id, timestamp, meter_start)
    verdict = authorization.verdict(id_tag)
    if verdict.accepted and reservation_holds.held_by_another(charge_point_id, connector_id, id_tag,
                                                              verdict.parent_id_tag, reservation_id):
        system_log.warning("reservation_conflict", f"StartTransaction by {id_tag} on connector {connector_id}, "
                           "which is reserved for another idTag: answered Invalid", charge_point_id=charge_point_id)
        verdict = replace(verdict, status=AuthorizationStatus.invalid)
    transaction = Transaction(charge_point_id=charge_point_id, connector_id=connector_id, id_tag=id_tag,
                              id_tag_status=verdict.status, meter_start=meter_start,
                              start_timestamp=timestamp, reservation_id=reservation_id)
    db.session.add(transaction)
    try:
        db.session.commit()
    except IntegrityError:
        # The same StartTransaction, committed meanwhile through another connection of this charge point.
        db.session.rollback()
        existing = _started(charge_point_id, connector_id, timestamp)
        if existing is None:
            raise
        return existing, _verdict_given(existing)
    system_log.info("transaction_started",
                    f"transaction {transaction.id} started on connector {connector_id} by {id_tag} "
                    f"({verdict.status}), meterStart {meter_start} Wh", charge_point_id=charge_point_id)
    events.publish_transaction(transaction)
    if verdict.accepted:
        reservation_holds.use(charge_point_id, connector_id, id_tag, verdict.parent_id_tag, reservation_id,
                              transaction.id)
    return transaction, verdict


def _started(charge_point_id: str, connector_id: int, timestamp: datetime) -> Transaction | None:
    return db.session.scalar(select(Transaction).where(
        Transaction.charge_point_id == charge_point_id, Transaction.connector_id == connector_id,
        Transaction.start_timestamp == timestamp))


def _verdict_given(transaction: Transaction) -> IdTagVerdict:
    """The idTagInfo answered when the transaction started, for a retried StartTransaction."""
    current = authorization.verdict(transaction.id_tag, check_concurrent=False)
    return replace(current, status=AuthorizationStatus(transaction.id_tag_status))


def _close_superseded(charge_point_id: str, connector_id: int, timestamp: datetime,
                      meter_start: int) -> None:
    running = db.session.scalars(select(Transaction).where(
        Transaction.charge_point_id == charge_point_id, Transaction.connector_id == connector_id,
        Transaction.stop_timestamp.is_(None), Transaction.start_timestamp < timestamp)).all()
    for transaction in running:
        if not close_by_central_system(transaction, timestamp, SUPERSEDED):
            continue
        system_log.warning(
            "transaction_superseded",
            f"transaction {transaction.id} on connector {connector_id} was still running when a new one "
            f"started; closed at {transaction.meter_stop} Wh until the charge point's StopTransaction "
            f"arrives", charge_point_id=charge_point_id)


def close_by_central_system(transaction: Transaction, at: datetime, reason: str,
                            meter_stop: int | None = None) -> bool:
    """Close a transaction the charge point has not stopped (yet); the caller commits.

    Without meter_stop, the last known energy register reading stands (meterStart when there is
    none): no energy is invented. False when it was no longer running: a conditional UPDATE, so that
    two closers (an administrator and a job, two job runs) cannot both close it.
    """
    if meter_stop is None:
        meter_stop = last_known_meter_wh(transaction)
    result = db.session.execute(
        update(Transaction)
        .where(Transaction.id == transaction.id, Transaction.stop_timestamp.is_(None))
        .values(stop_timestamp=at, meter_stop=meter_stop, stop_reason=reason,
                stopped_by=STOPPED_BY_CENTRAL_SYSTEM, updated_at=utcnow()))
    if result.rowcount == 1:  # pages ask again after a moment, by when the caller has committed
        events.publish_transaction(transaction, running=False)
    return result.rowcount == 1


def stop_transaction(charge_point_id: str, transaction_id: int, meter_stop: int, timestamp: datetime,
                     reason: str | None = None, id_tag: str | None = None,
                     transaction_data: list[dict] | None = None) -> IdTagVerdict | None:
    """Record a StopTransaction; the idTagInfo to answer when it carries an idTag."""
    transaction = db.session.get(Transaction, transaction_id)
    if transaction is None or transaction.charge_point_id != charge_point_id:
        _record_stop_of_unknown_transaction(charge_point_id, transaction_id, transaction_data)
    elif transaction.stopped_by == STOPPED_BY_CHARGE_POINT:
        meter_values.store(charge_point_id, transaction.connector_id, transaction.id, transaction_data or [])
        db.session.commit()
    else:
        _record_stop(transaction, meter_stop, timestamp, reason or DEFAULT_STOP_REASON, id_tag,
                     transaction_data or [])
    if id_tag is None:
        return None
    return authorization.verdict(id_tag, check_concurrent=False)


def _record_stop(transaction: Transaction, meter_stop: int, timestamp: datetime, reason: str,
                 id_tag: str | None, transaction_data: list[dict]) -> None:
    correcting = transaction.stopped_by == STOPPED_BY_CENTRAL_SYSTEM
    transaction.stop_timestamp = timestamp
    transaction.meter_stop = meter_stop
    transaction.stop_reason = reason
    transaction.stop_id_tag = id_tag
    transaction.stopped_by = STOPPED_BY_CHARGE_POINT
    meter_values.store(transaction.charge_point_id, transaction.connector_id, transaction.id, transaction_data)
    db.session.commit()
    events.publish_transaction(transaction, running=False)
    energy = meter_stop - transaction.meter_start
    if correcting:
        system_log.info("transaction_corrected",
                        f"transaction {transaction.id}, closed by the central system, corrected with the "
                        f"charge point's StopTransaction: {energy} Wh, reason {reason}",
                        charge_point_id=transaction.charge_point_id)
    else:
        system_log.info("transaction_stopped", f"transaction {transaction.id} stopped: {energy} Wh, "
                        f"reason {reason}", charge_point_id=transaction.charge_point_id)
    if energy < 0:
        system_log.warning("meter_anomaly", f"transaction {transaction.id}: meterStop {meter_stop} Wh is "
                           f"below meterStart {transaction.meter_start} Wh",
                           charge_point_id=transaction.charge_point_id)


def _record_stop_of_unknown_transaction(charge_point_id: str, transaction_id: int,
                                        transaction_data: list[dict] | None) -> None:
    # Answered all the same (a charge point would retry forever); transactionId -1 means it never got
    # the answer to its StartTransaction. Its meter values are kept, without a transaction.
    meter_values.store(charge_point_id, 0, None, transaction_data or [])
    db.session.commit()
    system_log.warning("unknown_transaction",
                       f"StopTransaction for transaction {transaction_id}, which this charge point never "
                       f"started here; its meter values are kept without a transaction",
                       charge_point_id=charge_point_id)


def record_meter_values(charge_point_id: str, connector_id: int, meter_value: list[dict],
                        transaction_id: int | None = None) -> None:
    if transaction_id is not None and not _is_transaction_of(charge_point_id, transaction_id):
        system_log.warning("unknown_transaction",
                           f"MeterValues for transaction {transaction_id}, which this charge point never "
                           f"started here; kept without a transaction", charge_point_id=charge_point_id)
        transaction_id = None
    commit_together(*meter_values.insertions(charge_point_id, connector_id, transaction_id, meter_value))


_OWNER = select(Transaction.__table__.c.charge_point_id).where(Transaction.__table__.c.id == bindparam("id"))
# transactionId -> its charge point, for the ones seen: a transaction never changes hands, and every
# MeterValues of a running transaction would otherwise ask the database again.
_owners: dict[int, str] = {}
_OWNERS_KEPT = 100_000


def _is_transaction_of(charge_point_id: str, transaction_id: int) -> bool:
    owner = _owners.get(transaction_id)
    if owner is None:
        owner = db.session.scalar(_OWNER, {"id": transaction_id})
        if owner is not None:
            if len(_owners) >= _OWNERS_KEPT:
                _owners.clear()
            _owners[transaction_id] = owner
    return owner == charge_point_id


def last_known_meter_wh(transaction: Transaction) -> int:
    """The latest energy register reading of the transaction in Wh, meterStart when there is none."""
    return _meter_end_wh(transaction, meter_values.latest_energy_register(transaction.id))


def _meter_end_wh(transaction: Transaction, latest_register: MeterValue | None) -> int:
    if transaction.meter_stop is not None:
        return transaction.meter_stop
    reading = meter_values.energy_register_wh(latest_register) if latest_register is not None else None
    if reading is None or reading < transaction.meter_start:
        return transaction.meter_start
    return round(reading)


def energy_delivered_wh(transactions: list[Transaction]) -> dict[int, int]:
    """Per transaction: meterStop - meterStart once stopped; while running, up to the last energy
    register reading (one query for all running ones)."""
    running = [transaction.id for transaction in transactions if transaction.meter_stop is None]
    latest = meter_values.latest_samples(running, meter_values.ENERGY_REGISTER)
    return {transaction.id: _meter_end_wh(transaction, latest.get(transaction.id)) - transaction.meter_start
            for transaction in transactions}


def kwh(wh: float) -> float:
    return round(wh / 1000, 3)


def describe(transaction: Transaction, energy_wh: int) -> dict:
    return {**transaction.as_dict(), "transaction_id": transaction.id, "is_complete": transaction.is_complete,
            "energy_delivered": kwh(energy_wh)}


def find_transactions(charge_point_id: str | None = None, is_complete: bool | None = None,
                      transaction_id: int | None = None, limit: int = 1000, offset: int = 0) -> list[dict]:
    """Transactions matching the filters, newest first."""
    query = select(Transaction).order_by(Transaction.id.desc())
    if charge_point_id is not None:
        query = query.where(Transaction.charge_point_id == charge_point_id)
    if is_complete is not None:
        query = query.where(Transaction.stop_timestamp.is_not(None) if is_complete
                            else Transaction.stop_timestamp.is_(None))
    if transaction_id is not None:
        query = query.where(Transaction.id == transaction_id)
    transactions = lookups.page(query, limit, offset)
    energy = energy_delivered_wh(transactions)
    return [describe(transaction, energy[transaction.id]) for transaction in transactions]


def require(transaction_id: int) -> Transaction:
    return lookups.require(Transaction, transaction_id, "transaction", "transactionId")


def details(transaction_id: int) -> dict:
    """One transaction with its meter values; raises NotFound."""
    transaction = require(transaction_id)
    energy = energy_delivered_wh([transaction])[transaction.id]
    samples = [sample.as_dict() for sample in meter_values.of_transaction(transaction_id)]
    return {**describe(transaction, energy), "meter_values": samples}


def running_transaction_on(charge_point_id: str, connector_id: int) -> Transaction | None:
    return db.session.scalar(select(Transaction).where(
        Transaction.charge_point_id == charge_point_id, Transaction.connector_id == connector_id,
        Transaction.stop_timestamp.is_(None)).order_by(Transaction.start_timestamp.desc()).limit(1))


def count_running() -> int:
    return db.session.scalar(select(func.count()).select_from(Transaction)
                             .where(Transaction.stop_timestamp.is_(None)))


def close_by_administrator(transaction_id: int, reason: str, requested_by: str,
                           final_energy_kwh: float | None = None) -> dict:
    """Close a transaction the charge point never stopped; raises NotFound, or Conflict when complete.

    final_energy_kwh is the energy the transaction delivered; without it, the last known energy
    register reading stands. A StopTransaction arriving later still corrects it.
    """
    transaction = require(transaction_id)
    meter_stop = None if final_energy_kwh is None else transaction.meter_start + round(final_energy_kwh * 1000)
    if not close_by_central_system(transaction, utcnow(), reason, meter_stop):
        db.session.rollback()
        transaction = require(transaction_id)
        raise Conflict(f"transaction {transaction_id} is already complete",
                       {"transactionId": transaction_id, "stopReason": transaction.stop_reason,
                        "stoppedBy": transaction.stopped_by})
    db.session.commit()
    db.session.refresh(transaction)
    energy_wh = transaction.meter_stop - transaction.meter_start
    system_log.warning("transaction_closed",
                       f"transaction {transaction_id} closed by {requested_by}: {reason}, {kwh(energy_wh)} kWh",
                       charge_point_id=transaction.charge_point_id,
                       details={"transactionId": transaction_id, "requestedBy": requested_by, "reason": reason,
                                "meterStop": transaction.meter_stop})
    return describe(transaction, energy_wh)


def running_connectors() -> list[tuple[str, int]]:
    """(charge point id, connector id) of every running transaction."""
    return list(db.session.execute(select(Transaction.charge_point_id, Transaction.connector_id)
                                   .where(Transaction.stop_timestamp.is_(None))).tuples())


def running_while_offline(now: datetime, offline_for: float, after_id: int = 0,
                          limit: int | None = None) -> list[tuple[Transaction, datetime]]:
    """Running transactions whose charge point has been offline for at least `offline_for` seconds,
    with the moment it went offline: the first `limit` after `after_id`, by id."""
    went_offline = ChargePoint.disconnected_at
    rows = db.session.execute(
        select(Transaction, went_offline).join(ChargePoint, ChargePoint.id == Transaction.charge_point_id)
        .where(Transaction.stop_timestamp.is_(None), went_offline.is_not(None),
               or_(ChargePoint.connected_at.is_(None), went_offline >= ChargePoint.connected_at),
               went_offline <= now - timedelta(seconds=offline_for), Transaction.id > after_id)
        .order_by(Transaction.id).limit(limit))
    return [(transaction, went_offline_at) for transaction, went_offline_at in rows]


def flag_offline(transaction_ids: list[int], now: datetime) -> set[int]:
    """Flag those of the transactions still running and not flagged yet as running while offline, in one
    UPDATE; the ids flagged. The caller commits (with the log rows saying so: a run killed in between
    must leave neither)."""
    return set(db.session.scalars(update(Transaction).where(
        Transaction.id.in_(transaction_ids), Transaction.offline_flagged_at.is_(None),
        Transaction.stop_timestamp.is_(None)).values(offline_flagged_at=now).returning(Transaction.id)))


def close_offline(offline: list[tuple[Transaction, datetime]], reason: str) -> dict[int, int]:
    """Close each transaction at the moment its charge point went offline (after nothing is known) and at
    its last known meter reading, as close_by_central_system does, for many in one UPDATE; the meterStop
    of each closed, by id (not those something else closed first). The caller commits."""
    if not offline:
        return {}
    registers = meter_values.latest_samples([t.id for t, _ in offline], meter_values.ENERGY_REGISTER)
    stops = {t.id: (max(since, t.start_timestamp), _meter_end_wh(t, registers.get(t.id))) for t, since in offline}
    moment = Transaction.__table__.c.stop_timestamp.type  # (the CASE's values are bound as the column's)
    closed = set(db.session.scalars(
        update(Transaction).where(Transaction.id.in_(stops), Transaction.stop_timestamp.is_(None))
        .values(stop_timestamp=case({tid: literal(at, moment) for tid, (at, _) in stops.items()}, value=Transaction.id),
                meter_stop=case({tid: wh for tid, (_, wh) in stops.items()}, value=Transaction.id),
                stop_reason=reason, stopped_by=STOPPED_BY_CENTRAL_SYSTEM, updated_at=utcnow())
        .returning(Transaction.id)))
    for transaction, _ in offline:
        if transaction.id in closed:  # pages ask again after a moment, by when the caller has committed
            events.publish_transaction(transaction, running=False)
    return {tid: stops[tid][1] for tid in closed}
