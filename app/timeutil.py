"""UTC time: the one clock of the server, and ISO 8601 in and out."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_timestamp(value: str) -> datetime:
    """An OCPP dateTime as an aware UTC datetime; a value without offset is taken as UTC.

    Raises ValueError when the text is not an ISO 8601 date-time.
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z and milliseconds, as OCPP and the API answer it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
