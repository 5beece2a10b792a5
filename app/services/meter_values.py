"""Meter values: every sampled value stored as reported, with the spec's defaults made explicit."""
from datetime import datetime

from sqlalchemy import and_, func, select

from app.database import prepared
from app.extensions import db
from app.models import MeterValue
from app.spec.datatypes import parse_timestamp

ENERGY_REGISTER = "Energy.Active.Import.Register"

# OCPP 1.6 SampledValue defaults (section 7.45): what an absent field means.
SAMPLE_DEFAULTS = {
    "context": "Sample.Periodic",
    "format": "Raw",
    "measurand": ENERGY_REGISTER,
    "location": "Outlet",
    "unit": "Wh",
}
NO_PHASE = ""

POWER = "Power.Active.Import"

_WH_PER_UNIT = {"Wh": 1, "kWh": 1000}
_W_PER_UNIT = {"W": 1, "kW": 1000}


def rows(charge_point_id: str, connector_id: int, transaction_id: int | None,
         meter_value: list[dict]) -> list[dict]:
    """One row per sampled value of MeterValues.meterValue (or StopTransaction.transactionData)."""
    result = []
    for reading in meter_value:
        timestamp = parse_timestamp(reading["timestamp"])
        for sample in reading["sampled_value"]:
            result.append({
                "charge_point_id": charge_point_id,
                "connector_id": connector_id,
                "transaction_id": transaction_id,
                "timestamp": timestamp,
                "value": sample["value"],
                "phase": sample.get("phase") or NO_PHASE,
                **{field: sample.get(field) or default for field, default in SAMPLE_DEFAULTS.items()},
            })
    return result


def store(charge_point_id: str, connector_id: int, transaction_id: int | None,
          meter_value: list[dict]) -> int:
    """Add the samples that are not stored yet (a retry adds nothing); the caller commits."""
    operations = insertions(charge_point_id, connector_id, transaction_id, meter_value)
    if operations:
        db.session.execute(_insert_samples(), [sample for _, sample in operations])
    return len(operations)


def insertions(charge_point_id: str, connector_id: int, transaction_id: int | None,
               meter_value: list[dict]) -> list[tuple]:
    """store()'s writes as operations for group_commit.commit_together."""
    statement = _insert_samples()
    return [(statement, sample) for sample in rows(charge_point_id, connector_id, transaction_id, meter_value)]


@prepared
def _insert_samples(dialect):
    return dialect.insert(MeterValue.__table__).on_conflict_do_nothing()


def energy_register_wh(sample: MeterValue) -> float | None:
    """The reading of an energy register in Wh, or None when the sample is not one we can read."""
    factor = _WH_PER_UNIT.get(sample.unit)
    if factor is None or sample.format != "Raw":
        return None
    try:
        return float(sample.value) * factor
    except ValueError:
        return None


def latest_samples(transaction_ids, measurand: str) -> dict[int, MeterValue]:
    """Per transaction, its most recent sample of `measurand` for the whole outlet (no phase)."""
    transaction_ids = list(transaction_ids)
    if not transaction_ids:
        return {}
    wanted = (MeterValue.transaction_id.in_(transaction_ids), MeterValue.measurand == measurand,
              MeterValue.phase == NO_PHASE)
    latest = (select(MeterValue.transaction_id, func.max(MeterValue.timestamp).label("timestamp"))
              .where(*wanted).group_by(MeterValue.transaction_id).subquery())
    samples = db.session.scalars(
        select(MeterValue).join(latest, and_(MeterValue.transaction_id == latest.c.transaction_id,
                                             MeterValue.timestamp == latest.c.timestamp))
        .where(*wanted).order_by(MeterValue.id))
    return {sample.transaction_id: sample for sample in samples}


def latest_energy_register(transaction_id: int) -> MeterValue | None:
    """The transaction's most recent Energy.Active.Import.Register sample on the outlet."""
    return latest_samples([transaction_id], ENERGY_REGISTER).get(transaction_id)


def power_w(sample: MeterValue) -> float | None:
    """A Power.Active.Import sample in W, or None when it cannot be read."""
    factor = _W_PER_UNIT.get(sample.unit)
    try:
        return float(sample.value) * factor if factor is not None and sample.format == "Raw" else None
    except ValueError:
        return None


def of_transaction(transaction_id: int) -> list[MeterValue]:
    return list(db.session.scalars(select(MeterValue).where(MeterValue.transaction_id == transaction_id)
                                   .order_by(MeterValue.timestamp, MeterValue.id)))
