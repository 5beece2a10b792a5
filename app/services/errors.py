"""What the services refuse, in terms any interface can turn into its own answer (the API: app/errors.py)."""


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
