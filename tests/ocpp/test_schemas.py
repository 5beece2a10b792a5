"""Validation against the `ocpp` package's OCPP 1.6 schemas, and lenient repair."""
import pytest
from ocpp.exceptions import OCPPError

from app.spec import schemas

STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


@pytest.mark.parametrize("payload, code, field", [
    ({**STATUS, "connectorId": "1"}, "TypeConstraintViolation", "connectorId"),
    ({**STATUS, "info": "x" * 51}, "TypeConstraintViolation", "info"),
    ({"errorCode": "NoError", "status": "Available"}, "OccurenceConstraintViolation", ""),
    ({**STATUS, "colour": "red"}, "FormationViolation", ""),
    ({**STATUS, "status": "available"}, "PropertyConstraintViolation", "status"),
    ({**STATUS, "timestamp": "yesterday"}, "PropertyConstraintViolation", "timestamp"),
])
def test_violations_map_to_ocpp_16_error_codes(payload, code, field):
    with pytest.raises(OCPPError) as violation:
        schemas.validate("StatusNotification", payload)
    assert violation.value.code == code
    assert violation.value.details["field"] == field


def test_a_conforming_payload_passes_unchanged():
    assert schemas.check("StatusNotification", STATUS, lenient=False) == (STATUS, [])


def test_every_action_has_request_and_response_schemas():
    for action in schemas.CHARGE_POINT_ACTIONS | schemas.CENTRAL_SYSTEM_ACTIONS:
        assert schemas.has_schema(schemas.request_schema(action)), action
        assert schemas.has_schema(schemas.response_schema(action)), action


def test_lenient_repairs_what_keeps_its_meaning():
    sent = {"connectorid": "2", "errorCode": "noerror", "status": "CHARGING", "info": "i" * 60,
            "timestamp": "2024-05-01T10:00:00", "firmware": "extra"}
    repaired, changes = schemas.check("StatusNotification", sent, lenient=True)
    assert repaired == {"connectorId": 2, "errorCode": "NoError", "status": "Charging", "info": "i" * 50,
                        "timestamp": "2024-05-01T10:00:00.000Z"}
    assert len(changes) == 7


def test_lenient_takes_numbers_sent_as_strings_and_the_reverse():
    sent = {"connectorId": 1, "meterValue": [{"timestamp": "2024-05-01T10:00:00Z",
                                              "sampledValue": [{"value": 1234.5}]}], "transactionId": 7.0}
    repaired, _ = schemas.check("MeterValues", sent, lenient=True)
    assert repaired["meterValue"][0]["sampledValue"][0]["value"] == "1234.5"
    assert repaired["transactionId"] == 7 and isinstance(repaired["transactionId"], int)


def test_lenient_still_refuses_what_it_cannot_mend():
    with pytest.raises(OCPPError) as violation:
        schemas.check("StatusNotification", {"errorCode": "NoError", "status": "Bogus"}, lenient=True)
    # The violation reported is the one of the payload as sent.
    assert violation.value.code == "OccurenceConstraintViolation"


def test_strict_does_not_repair():
    with pytest.raises(OCPPError):
        schemas.check("StatusNotification", {**STATUS, "status": "available"}, lenient=False)


def test_decimals_are_not_refused_for_binary_rounding():
    profile = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}]}}}
    schemas.validate("SetChargingProfile", profile)
