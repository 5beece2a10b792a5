"""OCPP 1.6 messages on the wire (camelCase JSON payloads) and in the code (the `ocpp` package's
call / call_result dataclasses, snake_case): the one place where one becomes the other, both ways.

The router converts inbound CALLs and the replies to them here; the outbound port
(services.commands.send) converts the requests it sends and the CALLRESULTs it gets back.
"""
import dataclasses
import functools

from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.v16 import call, call_result


@functools.cache
def _snake_case(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


def snake_case_keys(data):
    # The `ocpp` package's own conversion (camel_to_snake_case), with the key conversion cached: its
    # regular expressions cost more than everything else on the path of a small message.
    if isinstance(data, dict):
        return {_snake_case(key): snake_case_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_case_keys(item) for item in data]
    return data


def camel_case_keys(data: dict) -> dict:
    """A snake_case dict as the wire writes it (the `ocpp` package's own conversion)."""
    return snake_to_camel_case(data)


def payload(message) -> dict:
    """The wire payload of a call or call_result dataclass: camelCase, absent fields left out."""
    return snake_to_camel_case(remove_nones(serialize_as_dict(message)))


def action(request) -> str:
    """The OCPP action of a call dataclass (call.ReserveNow -> "ReserveNow")."""
    return type(request).__name__


def request(action_name: str, wire_payload: dict):
    """The call dataclass of a CALL's payload (already checked against its schema)."""
    return _typed(getattr(call, action_name), wire_payload)


def result(action_name: str, wire_payload: dict):
    """The call_result dataclass of a CALLRESULT's payload (already checked against its schema)."""
    return _typed(getattr(call_result, action_name), wire_payload)


def _typed(message_class, wire_payload: dict):
    # Fields a later edition adds (or a lenient charge point sends) are not the dataclass's: left out.
    known = {field.name for field in dataclasses.fields(message_class)}
    return message_class(**{key: value for key, value in snake_case_keys(wire_payload).items() if key in known})
