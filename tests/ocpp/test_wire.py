"""The one conversion between the wire (camelCase payloads) and the `ocpp` package's dataclasses."""
from ocpp.v16 import call, call_result

from app.spec import wire


def test_a_request_goes_out_in_camel_case_without_absent_fields():
    request = call.ReserveNow(connector_id=1, expiry_date="2030-01-01T00:00:00.000Z", id_tag="TAG", reservation_id=7)
    assert wire.action(request) == "ReserveNow"
    assert wire.payload(request) == {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00.000Z", "idTag": "TAG",
                                     "reservationId": 7}


def test_nested_fields_and_the_spec_s_odd_names_survive_both_ways():
    sent = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 3, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11.5}]}}}
    request = wire.request("SetChargingProfile", sent)
    assert request.cs_charging_profiles["charging_schedule"]["charging_schedule_period"] == \
        [{"start_period": 0, "limit": 11.5}]
    assert wire.payload(request) == sent
    ocsp = {"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b",
                                    "serialNumber": "c"}}
    assert wire.payload(wire.request("DeleteCertificate", ocsp)) == ocsp


def test_a_result_comes_back_typed_and_fields_it_does_not_know_are_left_out():
    result = wire.result("GetDiagnostics", {"fileName": "diag.log", "vendorExtra": 1})
    assert result == call_result.GetDiagnostics(file_name="diag.log")
    assert wire.result("ReserveNow", {"status": "Accepted"}).status == "Accepted"
