"""Meter values: every sampled value stored as reported, with the spec's defaults made explicit."""
from datetime import datetime

from sqlalchemy import select

from app.database import insert
from app.extensions import db
from app.models import MeterValue
from app.timeutil import parse_timestamp

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

_WH_PER_UNIT = {"Wh": 1, "kWh": 1000}


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
    samples = rows(charge_point_id, connector_id, transaction_id, meter_value)
    if samples:
        db.session.execute(insert(MeterValue).on_conflict_do_nothing(), samples)
    return len(samples)


def energy_register_wh(sample: MeterValue) -> float | None:
    """The reading of an energy register in Wh, or None when the sample is not one we can read."""
    factor = _WH_PER_UNIT.get(sample.unit)
    if factor is None or sample.format != "Raw":
        return None
    try:
        return float(sample.value) * factor
    except ValueError:
        return None


def latest_energy_register(transaction_id: int) -> MeterValue | None:
    """The transaction's most recent Energy.Active.Import.Register sample on the outlet."""
    return db.session.scalar(
        select(MeterValue)
        .where(MeterValue.transaction_id == transaction_id, MeterValue.measurand == ENERGY_REGISTER,
               MeterValue.phase == NO_PHASE)
        .order_by(MeterValue.timestamp.desc(), MeterValue.id.desc())
        .limit(1))
