"""Why a CALL to a charge point got no CALLRESULT; the same whichever process held the charge point.

Each failure travels between processes as a dict (to_dict / from_dict), so that a command relayed
through Redis fails exactly as it would have in one process.
"""


class CommandFailed(Exception):
    """A CALL to a charge point that did not get a (valid) CALLRESULT."""
    kind = "failed"

    def to_dict(self) -> dict:
        return {"kind": self.kind, **self.__dict__}

    @staticmethod
    def from_dict(data: dict) -> "CommandFailed":
        fields = {key: value for key, value in data.items() if key != "kind"}
        failure_class = next(cls for cls in CommandFailed.__subclasses__() if cls.kind == data["kind"])
        return failure_class(**fields)


class NotConnected(CommandFailed):
    kind = "not_connected"

    def __init__(self, charge_point_id: str):
        super().__init__(f"charge point {charge_point_id} is not connected")
        self.charge_point_id = charge_point_id


class CallTimeout(CommandFailed):
    kind = "timeout"

    def __init__(self, charge_point_id: str, action: str, timeout: float):
        super().__init__(f"charge point {charge_point_id} did not answer {action} within {timeout:g} s")
        self.charge_point_id, self.action, self.timeout = charge_point_id, action, timeout


class CallErrorReceived(CommandFailed):
    """The charge point answered with a CALLERROR."""
    kind = "call_error"

    def __init__(self, error_code: str, error_description: str, error_details: dict):
        super().__init__(f"{error_code}: {error_description}")
        self.error_code, self.error_description, self.error_details = error_code, error_description, error_details


class InvalidCallResult(CommandFailed):
    """The charge point's CALLRESULT breaks the response schema."""
    kind = "invalid_reply"

    def __init__(self, action: str, violation: str):
        super().__init__(f"the CALLRESULT to {action} breaks its schema: {violation}")
        self.action, self.violation = action, violation
