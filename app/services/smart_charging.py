"""Smart Charging: charging profiles checked, stored and sent (SetChargingProfile), cleared
(ClearChargingProfile), and the charge point's composite schedule asked for (GetCompositeSchedule)."""
from dataclasses import replace

from ocpp.v16 import call
from ocpp.v16.enums import (Action, ChargingProfileKindType, ChargingProfilePurposeType, ChargingProfileStatus,
                            ClearChargingProfileStatus)
from sqlalchemy import select, update

from app.extensions import db
from app.models import ChargingProfile
from app.services import charge_points, charging, commands, lookups
from app.services.commands import CommandOutcome
from app.services.errors import Invalid, parsed_timestamp
from app.spec import wire
from app.timeutil import utcnow

CLEARED, REPLACED = "Cleared", "Replaced"


def check(connector_id: int | None, profile: dict, remote_start: bool = False) -> None:
    """The rules of OCPP 1.6 (3.13, 5.11, 5.16, 7.8) that the JSON schema cannot express; raises Invalid.

    With RemoteStartTransaction the profile is a TxProfile for the transaction to come (no transactionId),
    and connector_id may be None: the charge point picks the connector and applies the profile to the
    transaction it starts. A TxProfile sent with SetChargingProfile may leave out transactionId (the charge
    point applies it to the transaction running on the connector, or rejects it)."""
    purpose, kind = profile["charging_profile_purpose"], profile["charging_profile_kind"]
    schedule = profile["charging_schedule"]
    problems = {}
    if remote_start and purpose != ChargingProfilePurposeType.tx_profile:
        problems["chargingProfilePurpose"] = "RemoteStartTransaction takes a TxProfile"
    if remote_start and "transaction_id" in profile:
        problems["transactionId"] = "the transaction of a RemoteStartTransaction does not exist yet"
    if purpose != ChargingProfilePurposeType.tx_profile and "transaction_id" in profile:
        problems["transactionId"] = "only a TxProfile has a transactionId"
    if purpose == ChargingProfilePurposeType.charge_point_max_profile and connector_id != 0:
        problems["connectorId"] = "a ChargePointMaxProfile is set on connector 0"
    if purpose == ChargingProfilePurposeType.tx_profile and connector_id == 0:
        problems["connectorId"] = "a TxProfile is set on the connector of its transaction, not on connector 0"
    if kind == ChargingProfileKindType.recurring and not ("recurrency_kind" in profile and "start_schedule" in schedule):
        problems["recurrencyKind"] = "a Recurring profile has a recurrencyKind and a startSchedule"
    if kind != ChargingProfileKindType.recurring and "recurrency_kind" in profile:
        problems["recurrencyKind"] = "only a Recurring profile has a recurrencyKind"
    if kind == ChargingProfileKindType.relative and "start_schedule" in schedule:
        problems["startSchedule"] = "a Relative profile has no startSchedule: it starts with the transaction"
    starts = [period["start_period"] for period in schedule["charging_schedule_period"]]
    if not starts or starts[0] != 0 or any(later <= earlier for earlier, later in zip(starts, starts[1:])):
        problems["chargingSchedulePeriod"] = "periods start at 0 and in increasing order of startPeriod"
    if any(period["limit"] < 0 for period in schedule["charging_schedule_period"]):
        problems["limit"] = "a limit is not negative"
    valid_from = parsed_timestamp("validFrom", profile.get("valid_from"))
    valid_to = parsed_timestamp("validTo", profile.get("valid_to"))
    if valid_from is not None and valid_to is not None and valid_from >= valid_to:
        problems["validTo"] = "validTo comes after validFrom"
    if problems:
        raise Invalid("the charging profile breaks the rules of OCPP 1.6: " + "; ".join(problems.values()), problems)


def _rounded(schedule: dict) -> dict:
    """Decimals to one place, as the 1.6 schema's multipleOf 0.1 wants them."""
    periods = [{**period, "limit": round(period["limit"], 1)} for period in schedule["charging_schedule_period"]]
    rounded = {**schedule, "charging_schedule_period": periods}
    if "min_charging_rate" in schedule:
        rounded["min_charging_rate"] = round(schedule["min_charging_rate"], 1)
    return rounded


def set_profile(charge_point_id: str, connector_id: int, profile: dict) -> CommandOutcome:
    """Check, store and send a charging profile (csChargingProfiles as OCPP writes it, without
    chargingProfileId: the stored profile's id is given). It takes the status the charge point answers."""
    return set_charging_profile(charge_point_id, call.SetChargingProfile(
        connector_id=connector_id, cs_charging_profiles=wire.snake_case_keys(profile)))


@commands.recorded_by(Action.set_charging_profile)
def set_charging_profile(charge_point_id: str, request: call.SetChargingProfile) -> CommandOutcome:
    """SetChargingProfile, numbered by the stored profile (whatever chargingProfileId the request had)."""
    connector_id, profile = request.connector_id, request.cs_charging_profiles
    charge_points.require(charge_point_id)
    check(connector_id, profile)
    if "transaction_id" in profile:
        running = charging.running_transaction_on(charge_point_id, connector_id)
        if running is None or running.id != profile["transaction_id"]:
            raise Invalid(f"transaction {profile['transaction_id']} is not running on connector {connector_id}",
                          {"transactionId": profile["transaction_id"]})

    def answered(profile_id: int, outcome: CommandOutcome) -> None:
        if outcome.status == ChargingProfileStatus.accepted:
            _replace_older(db.session.get(ChargingProfile, profile_id))

    return commands.send_recorded(charge_point_id, _row(charge_point_id, connector_id, profile), lambda profile_id:
                                  call.SetChargingProfile(connector_id, _numbered(profile_id, profile)), answered)


def _row(charge_point_id: str, connector_id: int | None, profile: dict) -> ChargingProfile:
    return ChargingProfile(
        charge_point_id=charge_point_id, connector_id=connector_id, stack_level=profile["stack_level"],
        purpose=profile["charging_profile_purpose"], kind=profile["charging_profile_kind"],
        recurrency_kind=profile.get("recurrency_kind"), transaction_id=profile.get("transaction_id"),
        valid_from=parsed_timestamp("validFrom", profile.get("valid_from")),
        valid_to=parsed_timestamp("validTo", profile.get("valid_to")),
        schedule=wire.camel_case_keys(_rounded(profile["charging_schedule"])))


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
    return clear_charging_profile(charge_point_id, call.ClearChargingProfile(
        id=profile_id, connector_id=connector_id, charging_profile_purpose=purpose, stack_level=stack_level))


@commands.recorded_by(Action.clear_charging_profile)
def clear_charging_profile(charge_point_id: str, request: call.ClearChargingProfile) -> CommandOutcome:
    charge_points.require(charge_point_id)
    outcome = commands.send(charge_point_id, request)
    if outcome.status == ClearChargingProfileStatus.accepted:
        accepted = select(ChargingProfile.id).where(ChargingProfile.charge_point_id == charge_point_id,
                                                    ChargingProfile.status == ChargingProfileStatus.accepted)
        query = lookups.matching(accepted, ChargingProfile, id=request.id, connector_id=request.connector_id,
                                 purpose=request.charging_profile_purpose, stack_level=request.stack_level)
        _set_status(db.session.scalars(query).all(), CLEARED)
    return outcome


def composite_schedule(charge_point_id: str, connector_id: int, duration: int,
                       charging_rate_unit: str | None = None) -> CommandOutcome:
    """The schedule the charge point will apply (its profiles combined), as it answers it."""
    return commands.send(charge_point_id, call.GetCompositeSchedule(connector_id=connector_id, duration=duration,
                                                                   charging_rate_unit=charging_rate_unit or None))


def listing(charge_point_id: str | None = None, status: str | None = None, limit: int = 1000,
            offset: int = 0) -> list[ChargingProfile]:
    return lookups.newest(ChargingProfile, limit, offset, charge_point_id=charge_point_id, status=status)


def remote_start(charge_point_id: str, id_tag: str, connector_id: int | None, profile: dict) -> CommandOutcome:
    """RemoteStartTransaction with a TxProfile (as OCPP writes it): stored (its id is the chargingProfileId),
    then sent. Without connector_id the charge point picks the connector; the stored profile has none."""
    return remote_start_transaction(charge_point_id, call.RemoteStartTransaction(
        id_tag=id_tag, connector_id=connector_id, charging_profile=wire.snake_case_keys(profile)))


@commands.recorded_by(Action.remote_start_transaction)
def remote_start_transaction(charge_point_id: str, request: call.RemoteStartTransaction) -> CommandOutcome:
    """RemoteStartTransaction; with a charging profile it is stored and numbered first (a record kept)."""
    profile = request.charging_profile
    if profile is None:
        return commands.send(charge_point_id, request)
    charge_points.require(charge_point_id)
    check(request.connector_id, profile, remote_start=True)
    return commands.send_recorded(charge_point_id, _row(charge_point_id, request.connector_id, profile),
                                  lambda profile_id: replace(request, charging_profile=_numbered(profile_id, profile)))


def _numbered(profile_id: int, profile: dict) -> dict:
    return {**profile, "charging_profile_id": profile_id, "charging_schedule": _rounded(profile["charging_schedule"])}
