"""idTag verdicts (idTagInfo) for Authorize and StartTransaction."""
import pytest

from app.services import authorization, charging
from app.timeutil import utcnow
from tests.domain import factories


@pytest.mark.parametrize("stored, expires_in, expected", [
    ("Accepted", None, "Accepted"),
    ("Accepted", 3600, "Accepted"),
    ("Accepted", -1, "Expired"),    # past its expiryDate
    ("Blocked", None, "Blocked"),
    ("Expired", None, "Expired"),
    ("Invalid", None, "Invalid"),
    ("Blocked", -1, "Blocked"),     # a stored refusal stands, expired or not
])
def test_the_stored_status_and_expiry_decide(in_app, stored, expires_in, expected):
    tag = factories.id_tag(stored, expires_in=expires_in)
    assert authorization.verdict(tag).status == expected
    assert authorization.for_authorize(tag).status == expected


def test_unknown_is_invalid(in_app):
    assert authorization.verdict("NEVER-SEEN").status == "Invalid"


def test_in_a_running_transaction_start_says_concurrent_tx_and_authorize_does_not(in_app):
    charge_point_id, tag = factories.charge_point(), factories.id_tag(parent="GROUP-V")
    charging.start_transaction(charge_point_id, 1, tag, 0, utcnow())
    assert authorization.verdict(tag).status == "ConcurrentTx"
    authorized = authorization.for_authorize(tag)
    assert (authorized.status, authorized.parent_id_tag) == ("Accepted", "GROUP-V")


def test_without_the_group_setting_another_card_of_the_group_is_accepted(in_app):
    charge_point_id = factories.charge_point()
    first, second = factories.id_tag(parent="GROUP-W"), factories.id_tag(parent="GROUP-W")
    charging.start_transaction(charge_point_id, 1, first, 0, utcnow())
    assert authorization.verdict(second).status == "Accepted"


def test_with_the_group_setting_another_card_of_the_group_is_concurrent_tx(in_app):
    in_app.config["OCPP_CONCURRENT_TX_PER_GROUP"] = True
    try:
        charge_point_id = factories.charge_point()
        first, second = factories.id_tag(parent="GROUP-X"), factories.id_tag(parent="GROUP-X")
        charging.start_transaction(charge_point_id, 1, first, 0, utcnow())
        assert authorization.verdict(second).status == "ConcurrentTx"
    finally:
        in_app.config["OCPP_CONCURRENT_TX_PER_GROUP"] = False
