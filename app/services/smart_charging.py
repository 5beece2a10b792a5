"""Smart Charging: charging profiles checked, stored and sent (SetChargingProfile), cleared
(ClearChargingProfile), and the charge point's composite schedule asked for (GetCompositeSchedule)."""
from ocpp.v16.enums import (Action, ChargingProfileKindType, ChargingProfilePurposeType, ChargingProfileStatus,
                            ClearChargingProfileStatus)
from sqlalchemy import select, update

from app.extensions import db
from app.models import ChargingProfile
from app.ocpp.failures import CommandFailed, NotConnected
from app.services import charge_points, charging, commands
from app.services.commands import CommandOutcome
from app.services.errors import Invalid
from app.timeutil import parse_timestamp, utcnow

REQUESTED, CLEARED, REPLACED, FAILED = "Requested", "Cleared", "Replaced", "Failed"


def check(connector_id: int | None, profile: dict, remote_start: bool = False) -> None:
    """The rules of OCPP 1.6 (3.13, 5.11, 5.16, 7.8) that the JSON schema cannot express; raises Invalid.

    With RemoteStartTransaction the profile is a TxProfile for the transaction to come (no transactionId),
    and connector_id may be None: the charge point picks the connector and applies the profile to the
    transaction it starts. A TxProfile sent with SetChargingProfile may leave out transactionId (the charge
    point applies it to the transaction running on the connector, or rejects it)."""
    purpose, kind = profile["chargingProfilePurpose"], profile["chargingProfileKind"]
    schedule = profile["chargingSchedule"]
    problems = {}
    if remote_start and purpose != ChargingProfilePurposeType.tx_profile:
        problems["chargingProfilePurpose"] = "RemoteStartTransaction takes a TxProfile"
    if remote_start and "transactionId" in profile:
        problems["transactionId"] = "the transaction of a RemoteStartTransaction does not exist yet"
    if purpose != ChargingProfilePurposeType.tx_profile and "transactionId" in profile:
        problems["transactionId"] = "only a TxProfile has a transactionId"
    if purpose == ChargingProfilePurposeType.charge_point_max_profile and connector_id != 0:
        problems["connectorId"] = "a ChargePointMaxProfile is set on connector 0"
    if purpose == ChargingProfilePurposeType.tx_profile and connector_id == 0:
        problems["connectorId"] = "a TxProfile is set on the connector of its transaction, not on connector 0"
    if kind == ChargingProfileKindType.recurring and not ("recurrencyKind" in profile and "startSchedule" in schedule):
        problems["recurrencyKind"] = "a Recurring profile has a recurrencyKind and a startSchedule"
    if kind != ChargingProfileKindType.recurring and "recurrencyKind" in profile:
        problems["recurrencyKind"] = "only a Recurring profile has a recurrencyKind"
    if kind == ChargingProfileKindType.relative and "startSchedule" in schedule:
        problems["startSchedule"] = "a Relative profile has no startSchedule: it starts with the transaction"
    starts = [period["startPeriod"] for period in schedule["chargingSchedulePeriod"]]
    if not starts or starts[0] != 0 or any(later <= earlier for earlier, later in zip(starts, starts[1:])):
        problems["chargingSchedulePeriod"] = "periods start at 0 and in increasing order of startPeriod"
    if any(period["limit"] < 0 for period in schedule["chargingSchedulePeriod"]):
        problems["limit"] = "a limit is not negative"
    if "validFrom" in profile and "validTo" in profile and \
            parse_timestamp(profile["validFrom"]) >= parse_timestamp(profile["validTo"]):
        problems["validTo"] = "validTo comes after validFrom"
    if problems:
        raise Invalid("the charging profile breaks the rules of OCPP 1.6: " + "; ".join(problems.values()), problems)


def _rounded(schedule: dict) -> dict:
    """Decimals to one place, as the 1.6 schema's multipleOf 0.1 wants them."""
    periods = [{**period, "limit": round(period["limit"], 1)} for period in schedule["chargingSchedulePeriod"]]
    rounded = {**schedule, "chargingSchedulePeriod": periods}
    if "minChargingRate" in schedule:
        rounded["minChargingRate"] = round(schedule["minChargingRate"], 1)
    return rounded


def set_profile(charge_point_id: str, connector_id: int, profile: dict) -> CommandOutcome:
    """Check, store and send a charging profile (csChargingProfiles without chargingProfileId: the
    stored profile's id is given). It takes the status the charge point answers."""
    charge_points.require(charge_point_id)
    check(connector_id, profile)
    if "transactionId" in profile:
        running = charging.running_transaction_on(charge_point_id, connector_id)
        if running is None or running.id != profile["transactionId"]:
            raise Invalid(f"transaction {profile['transactionId']} is not running on connector {connector_id}",
                          {"transactionId": profile["transactionId"]})
    stored = _store(charge_point_id, connector_id, profile)
    profile_id = stored.id
    payload = {"connectorId": connector_id, "csChargingProfiles": _ocpp_profile(profile_id, profile)}
    try:
        outcome = commands.send(charge_point_id, Action.set_charging_profile, payload)
    except NotConnected:
        db.session.delete(db.session.get(ChargingProfile, profile_id))
        db.session.commit()
        raise
    except CommandFailed:
        _set_status([profile_id], FAILED)
        raise
    status = outcome.reply["status"]
    if status == ChargingProfileStatus.accepted:
        _replace_older(db.session.get(ChargingProfile, profile_id))
    _set_status([profile_id], status)
    outcome.subject = db.session.get(ChargingProfile, profile_id)
    return outcome


def _store(charge_point_id: str, connector_id: int | None, profile: dict) -> ChargingProfile:
    stored = ChargingProfile(
        charge_point_id=charge_point_id, connector_id=connector_id, stack_level=profile["stackLevel"],
        purpose=profile["chargingProfilePurpose"], kind=profile["chargingProfileKind"],
        recurrency_kind=profile.get("recurrencyKind"), transaction_id=profile.get("transactionId"),
        valid_from=parse_timestamp(profile["validFrom"]) if "validFrom" in profile else None,
        valid_to=parse_timestamp(profile["validTo"]) if "validTo" in profile else None,
        schedule=_rounded(profile["chargingSchedule"]), status=REQUESTED)
    db.session.add(stored)
    db.session.commit()
    return stored


def _replace_older(profile: ChargingProfile) -> None:
    """A charge point keeps one profile per connector, purpose and stack level: the new one replaces."""
    older = db.session.scalars(select(ChargingProfile.id).where(
        ChargingProfile.charge_point_id == profile.charge_point_id, ChargingProfile.connector_id == profile.connector_id,
        ChargingProfile.purpose == profile.purpose, ChargingProfile.stack_level == profile.stack_level,
        ChargingProfile.status == ChargingProfileStatus.accepted, ChargingProfile.id != profile.id)).all()
    _set_status(older, REPLACED)


def _set_status(profile_ids: list[int], status: str) -> None:
    if profile_ids:
        db.session.execute(update(ChargingProfile).where(ChargingProfile.id.in_(profile_ids))
                           .values(status=status, updated_at=utcnow()))
        db.session.commit()


def clear(charge_point_id: str, profile_id: int | None = None, connector_id: int | None = None,
          purpose: str | None = None, stack_level: int | None = None) -> CommandOutcome:
    """ClearChargingProfile by id or by criteria; the stored profiles it matched are marked Cleared."""
    charge_points.require(charge_point_id)
    criteria = {key: value for key, value in (("id", profile_id), ("connectorId", connector_id),
                                              ("chargingProfilePurpose", purpose), ("stackLevel", stack_level))
                if value is not None}
    outcome = commands.send(charge_point_id, Action.clear_charging_profile, criteria)
    if outcome.reply["status"] == ClearChargingProfileStatus.accepted:
        query = select(ChargingProfile.id).where(ChargingProfile.charge_point_id == charge_point_id,
                                                 ChargingProfile.status == ChargingProfileStatus.accepted)
        for column, value in ((ChargingProfile.id, profile_id), (ChargingProfile.connector_id, connector_id),
                              (ChargingProfile.purpose, purpose), (ChargingProfile.stack_level, stack_level)):
            if value is not None:
                query = query.where(column == value)
        _set_status(db.session.scalars(query).all(), CLEARED)
    return outcome


def composite_schedule(charge_point_id: str, connector_id: int, duration: int,
                       charging_rate_unit: str | None = None) -> CommandOutcome:
    """The schedule the charge point will apply (its profiles combined), as it answers it."""
    payload = {"connectorId": connector_id, "duration": duration}
    if charging_rate_unit:
        payload["chargingRateUnit"] = charging_rate_unit
    return commands.send(charge_point_id, Action.get_composite_schedule, payload)


def listing(charge_point_id: str | None = None, status: str | None = None, limit: int = 1000,
            offset: int = 0) -> list[ChargingProfile]:
    query = select(ChargingProfile).order_by(ChargingProfile.id.desc()).limit(limit).offset(offset)
    if charge_point_id is not None:
        query = query.where(ChargingProfile.charge_point_id == charge_point_id)
    if status is not None:
        query = query.where(ChargingProfile.status == status)
    return list(db.session.scalars(query))


def remote_start(charge_point_id: str, id_tag: str, connector_id: int | None, profile: dict) -> CommandOutcome:
    """RemoteStartTransaction with a TxProfile: stored (its id is the chargingProfileId), then sent.
    Without connector_id the charge point picks the connector; the stored profile has none."""
    charge_points.require(charge_point_id)
    check(connector_id, profile, remote_start=True)
    stored = _store(charge_point_id, connector_id, profile)
    try:
        outcome = commands.remote_start(charge_point_id, id_tag, connector_id, _ocpp_profile(stored.id, profile))
    except CommandFailed:
        _set_status([stored.id], FAILED)
        raise
    _set_status([stored.id], outcome.reply["status"])
    outcome.subject = db.session.get(ChargingProfile, stored.id)
    return outcome


def _ocpp_profile(profile_id: int, profile: dict) -> dict:
    return {**profile, "chargingProfileId": profile_id, "chargingSchedule": _rounded(profile["chargingSchedule"])}
