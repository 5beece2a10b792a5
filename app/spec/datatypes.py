"""The field types of OCPP 1.6 declared once, for models, API schemas, validation and services alike.
Imports nothing of the application."""
from datetime import datetime, timezone

# integer in the OCPP 1.6 JSON schemas: a 32-bit signed integer (transactionId, reservationId, ...)
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1

# CiString48: the identity of a charge point in OCPP 1.6 and its Security Whitepaper
CHARGE_POINT_ID_LENGTH = 48

# IdToken (an idTag, a parentIdTag): CiString20
ID_TAG_LENGTH = 20


def is_int32(number: int) -> bool:
    """Whether the number fits the spec's integer (beyond it no such row exists, and PostgreSQL would
    refuse to compare it with an integer column)."""
    return INT32_MIN <= number <= INT32_MAX


def charge_point_id_problem(charge_point_id: str) -> str | None:
    """Why this id cannot name a charge point (1 to 48 printable ASCII characters), or None when it can."""
    if not charge_point_id:
        return "the charge point id is empty"
    if len(charge_point_id) > CHARGE_POINT_ID_LENGTH:
        return f"the charge point id is longer than {CHARGE_POINT_ID_LENGTH} characters"
    if not (charge_point_id.isascii() and charge_point_id.isprintable()):
        return "the charge point id must be printable ASCII"
    return None


def parse_timestamp(value: str) -> datetime:
    """An OCPP dateTime as an aware UTC datetime; a value without offset is taken as UTC.

    Raises ValueError when the text is not an ISO 8601 date-time, or names one that UTC cannot hold
    (0001-01-01T00:00:00+01:00 is in year 0 in UTC).
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{value} is out of the range of dates") from None


def isoformat(moment: datetime | None) -> str | None:
    """An OCPP dateTime: ISO 8601 in UTC with a Z and milliseconds, as OCPP and the API answer it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
