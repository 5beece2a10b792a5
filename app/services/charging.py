"""Transactions: start, stop, meter values and energy, for OCPP handlers, the API and the jobs alike.

Charge points queue transaction messages while offline and retry those whose answer they missed, so
every function here is idempotent: a retried StartTransaction gets the transactionId already given, a
retried StopTransaction or MeterValues adds nothing, and a StopTransaction that arrives after the
central system closed the transaction corrects it with the charge point's values.
"""
from dataclasses import replace
from datetime import datetime

from ocpp.v16.enums import AuthorizationStatus
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Transaction
from app.services import authorization, meter_values, system_log
from app.services.authorization import IdTagVerdict

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
        close_by_central_system(transaction, timestamp, SUPERSEDED)
        system_log.warning(
            "transaction_superseded",
            f"transaction {transaction.id} on connector {connector_id} was still running when a new one "
            f"started; closed at {transaction.meter_stop} Wh until the charge point's StopTransaction "
            f"arrives", charge_point_id=charge_point_id)


def close_by_central_system(transaction: Transaction, at: datetime, reason: str,
                            meter_stop: int | None = None) -> None:
    """Close a transaction the charge point has not stopped (yet); the caller commits.

    Without meter_stop, the last known energy register reading stands (meterStart when there is
    none): no energy is invented.
    """
    if meter_stop is None:
        meter_stop = last_known_meter_wh(transaction)
    transaction.stop_timestamp = at
    transaction.meter_stop = meter_stop
    transaction.stop_reason = reason
    transaction.stopped_by = STOPPED_BY_CENTRAL_SYSTEM


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
    meter_values.store(charge_point_id, connector_id, transaction_id, meter_value)
    db.session.commit()


def _is_transaction_of(charge_point_id: str, transaction_id: int) -> bool:
    transaction = db.session.get(Transaction, transaction_id)
    return transaction is not None and transaction.charge_point_id == charge_point_id


def last_known_meter_wh(transaction: Transaction) -> int:
    """The latest energy register reading of the transaction in Wh, meterStart when there is none."""
    sample = meter_values.latest_energy_register(transaction.id)
    reading = meter_values.energy_register_wh(sample) if sample is not None else None
    if reading is None or reading < transaction.meter_start:
        return transaction.meter_start
    return round(reading)


def energy_delivered_wh(transaction: Transaction) -> int:
    """meterStop - meterStart once stopped; while running, up to the last energy register reading."""
    end = transaction.meter_stop if transaction.meter_stop is not None else last_known_meter_wh(transaction)
    return end - transaction.meter_start
