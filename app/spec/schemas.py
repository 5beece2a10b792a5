"""Payload validation against the official OCPP 1.6 JSON schemas shipped by the `ocpp` package.

The schemas are compiled once with fastjsonschema (about 20 times faster than jsonschema on the hot
path). A violation raises the OCPPError whose code OCPP-J 1.6 gives it:

| schema rule                           | CALLERROR                    |
|---------------------------------------|------------------------------|
| type                                  | TypeConstraintViolation      |
| maxLength, minLength (CiString types) | TypeConstraintViolation      |
| required, minItems, maxItems          | OccurenceConstraintViolation |
| additionalProperties                  | FormationViolation           |
| enum, format, minimum, maximum, ...   | PropertyConstraintViolation  |

In lenient mode, repair() first mends what a charge point commonly gets wrong while its meaning stays
clear: unknown fields dropped, a key or enum value in the wrong case, an overlong string cut, a number
sent as a string or a string as a number, a timestamp without offset (taken as UTC).
"""
import functools
import json
import re
from pathlib import Path

import fastjsonschema
import ocpp
from fastjsonschema.draft04 import CodeGeneratorDraft04
from ocpp.exceptions import (FormationViolationError, OccurenceConstraintViolationError, OCPPError,
                             PropertyConstraintViolationError, TypeConstraintViolationError)
from ocpp.v16.enums import Action

from app.spec.datatypes import INT32_MAX, INT32_MIN, isoformat, parse_timestamp

SCHEMA_DIR = Path(ocpp.__file__).parent / "v16" / "schemas"

# OCPP 1.6 and its Security Whitepaper: what each side may send as a CALL.
CHARGE_POINT_ACTIONS = frozenset({
    Action.authorize, Action.boot_notification, Action.data_transfer,
    Action.diagnostics_status_notification, Action.firmware_status_notification, Action.heartbeat,
    Action.meter_values, Action.start_transaction, Action.status_notification, Action.stop_transaction,
    Action.security_event_notification, Action.sign_certificate,
    Action.signed_firmware_status_notification, Action.log_status_notification,
})
CENTRAL_SYSTEM_ACTIONS = frozenset({
    Action.cancel_reservation, Action.change_availability, Action.change_configuration,
    Action.clear_cache, Action.clear_charging_profile, Action.data_transfer,
    Action.get_composite_schedule, Action.get_configuration, Action.get_diagnostics,
    Action.get_local_list_version, Action.remote_start_transaction, Action.remote_stop_transaction,
    Action.reserve_now, Action.reset, Action.send_local_list, Action.set_charging_profile,
    Action.trigger_message, Action.unlock_connector, Action.update_firmware,
    Action.certificate_signed, Action.delete_certificate, Action.extended_trigger_message,
    Action.get_installed_certificate_ids, Action.get_log, Action.install_certificate,
    Action.signed_update_firmware,
})

_ERROR_BY_RULE = {
    "type": TypeConstraintViolationError,
    "maxLength": TypeConstraintViolationError,
    "minLength": TypeConstraintViolationError,
    "required": OccurenceConstraintViolationError,
    "minItems": OccurenceConstraintViolationError,
    "maxItems": OccurenceConstraintViolationError,
    "additionalProperties": FormationViolationError,
}


def request_schema(action: str) -> str:
    return action


def response_schema(action: str) -> str:
    return action + "Response"


@functools.cache
def schema(name: str) -> dict:
    """The schema document, adapted (see _adapted)."""
    with open(SCHEMA_DIR / f"{name}.json", encoding="utf-8-sig") as file:
        return _adapted(json.load(file))


def _adapted(node):
    """Two changes to the official schemas.

    - "multipleOf": 0.1 is dropped: binary floats cannot honour it (21.4 / 0.1 is 213.99999999999997).
      The `ocpp` package works around it with Decimal parsing; we round the values we send instead.
    - Integers get 32-bit bounds: OCPP's integer is 32-bit, and so are the columns that keep
      transactionId and connectorId; a larger number is a PropertyConstraintViolation, not a failure
      of the database.
    """
    if isinstance(node, list):
        return [_adapted(item) for item in node]
    if not isinstance(node, dict):
        return node
    adapted = {key: _adapted(value) for key, value in node.items() if key != "multipleOf"}
    if adapted.get("type") == "integer":
        adapted.setdefault("minimum", INT32_MIN)
        adapted.setdefault("maximum", INT32_MAX)
    return adapted


_RFC3339_DATE_TIME = re.compile(CodeGeneratorDraft04.FORMAT_REGEXS["date-time"])


def _is_date_time(value: str) -> bool:
    """The schemas' "date-time" format: RFC 3339 (fastjsonschema's pattern), and a moment UTC can hold
    (the pattern takes 2026-02-30T00:00:00Z, and 0001-01-01T00:00:00+01:00, which is in year 0 in UTC):
    a payload that passes validation must not fail when its timestamps are read."""
    if not _RFC3339_DATE_TIME.match(value):
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return True


@functools.cache
def _validator(name: str):
    # Compiled at first use (1.5 ms a schema on average, 78 of them): a worker started into a reconnect
    # storm needs a few, and takes the fleet 0.1 s sooner.
    return fastjsonschema.compile(schema(name), formats={"date-time": _is_date_time})


def has_schema(name: str) -> bool:
    return (SCHEMA_DIR / f"{name}.json").is_file()


def validate(name: str, payload: dict) -> None:
    """Raise the OCPPError of the first violation of schema `name` by `payload`."""
    try:
        _validator(name)(payload)
    except fastjsonschema.JsonSchemaValueException as violation:
        error_class = _ERROR_BY_RULE.get(violation.rule, PropertyConstraintViolationError)
        field = ".".join(violation.path[1:]) if violation.path else ""
        description = violation.message.replace("data.", "", 1).replace("data ", "payload ", 1)
        raise error_class(description, {"field": field, "rule": violation.rule}) from None


def repair(name: str, payload: dict) -> tuple[dict, list[str]]:
    """The payload with lenient fixes applied, and a line for each fix."""
    changes: list[str] = []
    return _repair(schema(name), payload, "", changes), changes


def _repair(node: dict, value, path: str, changes: list[str]):
    kind = node.get("type")
    if kind == "object" and isinstance(value, dict):
        return _repair_object(node, value, path, changes)
    if kind == "array" and isinstance(value, list) and "items" in node:
        return [_repair(node["items"], item, f"{path}[{index}]", changes) for index, item in enumerate(value)]
    if kind == "string":
        return _repair_string(node, value, path, changes)
    if kind in ("integer", "number"):
        return _repair_number(kind, value, path, changes)
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        changes.append(f"{path}: string {value!r} taken as a boolean")
        return value.lower() == "true"
    return value


def _repair_object(node: dict, value: dict, path: str, changes: list[str]) -> dict:
    properties = node.get("properties", {})
    by_lower_name = {name.lower(): name for name in properties}
    closed = node.get("additionalProperties", True) is False
    repaired = {}
    for key, item in value.items():
        name = key if key in properties else by_lower_name.get(key.lower())
        if name is None:
            if closed:
                changes.append(f"{path}.{key}: unknown field dropped".lstrip("."))
                continue
            repaired[key] = item
            continue
        if name != key:
            changes.append(f"{path}.{key}: taken as {name}".lstrip("."))
        repaired[name] = _repair(properties[name], item, f"{path}.{name}".lstrip("."), changes)
    return repaired


def _repair_string(node: dict, value, path: str, changes: list[str]):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        changes.append(f"{path}: number {value!r} taken as a string")
        value = str(value)
    if not isinstance(value, str):
        return value
    if "enum" in node and value not in node["enum"]:
        match = next((option for option in node["enum"] if option.lower() == value.lower()), None)
        if match is not None:
            changes.append(f"{path}: {value!r} taken as {match!r}")
            value = match
    if node.get("format") == "date-time":
        value = _repair_timestamp(value, path, changes)
    limit = node.get("maxLength")
    if limit is not None and len(value) > limit:
        changes.append(f"{path}: cut to {limit} characters")
        value = value[:limit]
    return value


def _repair_timestamp(value: str, path: str, changes: list[str]) -> str:
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return value
    normalised = isoformat(moment)
    if not _has_offset(value):
        changes.append(f"{path}: {value!r} has no offset, taken as UTC")
        return normalised
    return value


def _has_offset(value: str) -> bool:
    tail = value[10:]
    return tail.endswith(("Z", "z")) or "+" in tail or "-" in tail


def _repair_number(kind: str, value, path: str, changes: list[str]):
    if isinstance(value, str):
        try:
            number = float(value) if kind == "number" else int(value.strip())
        except ValueError:
            return value
        changes.append(f"{path}: string {value!r} taken as a number")
        return number
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        changes.append(f"{path}: {value!r} taken as an integer")
        return int(value)
    return value


def check(name: str, payload: dict, lenient: bool) -> tuple[dict, list[str]]:
    """The payload to act on, and the lenient fixes made; raises the OCPPError of a violation.

    Strict: the payload must conform as sent. Lenient: a payload that conforms after repair() is
    taken as repaired; one that does not raises the violation of the payload as sent.
    """
    try:
        validate(name, payload)
        return payload, []
    except OCPPError:
        if not lenient:
            raise
        repaired, changes = repair(name, payload)
        if not changes:
            raise
        try:
            validate(name, repaired)
        except OCPPError:
            validate(name, payload)  # re-raise the violation as the charge point sent it
            raise
        return repaired, changes
