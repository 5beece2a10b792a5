"""The rules of OCPP 1.6 for charging profiles that the JSON schema cannot express (smart_charging.check)."""
import pytest

from app.services import smart_charging
from app.services.errors import Invalid


def profile(**changes) -> dict:
    base = {"charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": {"charging_rate_unit": "A", "start_schedule": "2030-01-01T00:00:00Z",
                                  "charging_schedule_period": [{"start_period": 0, "limit": 16}]}}
    schedule = changes.pop("schedule", {})
    return {**base, **changes, "charging_schedule": {**base["charging_schedule"], **schedule}}


def periods(*starts_and_limits) -> dict:
    return {"charging_schedule_period": [{"start_period": start, "limit": limit} for start, limit in starts_and_limits]}


@pytest.mark.parametrize("connector_id, changes, remote_start", [
    (1, {}, False),
    (0, {"charging_profile_purpose": "ChargePointMaxProfile"}, False),
    (1, {"charging_profile_purpose": "TxProfile", "transaction_id": 5}, False),
    (1, {"charging_profile_purpose": "TxProfile"}, False),       # applies to the running transaction
    (None, {"charging_profile_purpose": "TxProfile"}, True),     # remote start: the charge point picks
    (1, {"charging_profile_kind": "Recurring", "recurrency_kind": "Daily"}, False),
    (1, {"charging_profile_kind": "Relative", "schedule": {"start_schedule": None}}, False),
    (1, {"schedule": periods((0, 16), (600, 8), (1200, 0))}, False),
    (1, {"valid_from": "2030-01-01T00:00:00Z", "valid_to": "2030-01-02T00:00:00Z"}, False),
])
def test_valid_profiles_pass(connector_id, changes, remote_start):
    checked = profile(**changes)
    checked["charging_schedule"] = {k: v for k, v in checked["charging_schedule"].items() if v is not None}
    smart_charging.check(connector_id, checked, remote_start=remote_start)


@pytest.mark.parametrize("connector_id, changes, remote_start, field", [
    (1, {}, True, "chargingProfilePurpose"),                                   # remote start takes a TxProfile
    (1, {"charging_profile_purpose": "TxProfile", "transaction_id": 5}, True, "transactionId"),
    (1, {"transaction_id": 5}, False, "transactionId"),                          # only a TxProfile has one
    (1, {"charging_profile_purpose": "ChargePointMaxProfile"}, False, "connectorId"),
    (0, {"charging_profile_purpose": "TxProfile"}, False, "connectorId"),
    (1, {"charging_profile_kind": "Recurring"}, False, "recurrencyKind"),
    (1, {"recurrency_kind": "Daily"}, False, "recurrencyKind"),
    (1, {"charging_profile_kind": "Relative"}, False, "startSchedule"),
    (1, {"schedule": periods((10, 16))}, False, "chargingSchedulePeriod"),       # the first starts at 0
    (1, {"schedule": periods((0, 16), (600, 8), (600, 4))}, False, "chargingSchedulePeriod"),
    (1, {"schedule": periods((0, -1))}, False, "limit"),
    (1, {"valid_from": "2030-01-02T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z"}, False, "validTo"),
])
def test_each_rule_names_its_field(connector_id, changes, remote_start, field):
    with pytest.raises(Invalid) as refused:
        smart_charging.check(connector_id, profile(**changes), remote_start=remote_start)
    assert field in refused.value.details
