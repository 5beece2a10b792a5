"""What the services refuse, in terms any interface can turn into its own answer (the API: app/errors.py)."""
from datetime import datetime

from app.spec.datatypes import parse_timestamp


class ServiceError(Exception):
    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(ServiceError):
    """The charge point, transaction, idTag ... named does not exist."""


class Conflict(ServiceError):
    """The request cannot be carried out in the current state (already complete, not connected ...)."""


class Invalid(ServiceError):
    """The request is malformed in a way only the service can tell (e.g. an OCPP payload's schema)."""


def parsed_timestamp(field: str, value: str | None) -> datetime | None:
    """A dateTime field of a request as an aware datetime (None stays None); raises Invalid naming the field."""
    try:
        return None if value is None else parse_timestamp(value)
    except ValueError:
        raise Invalid(f"{field} is not a date-time", {field: value}) from None
