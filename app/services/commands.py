"""Commands: OCPP CALLs from the central system to a charge point, for the API and the jobs.

Each command is validated against its OCPP 1.6 schema before it is sent, sent through the connection
registry, and logged with its outcome. A charge point that answers (even Rejected) gives an outcome;
one that is not connected, does not answer or answers with a CALLERROR raises session.CommandFailed.
"""
from dataclasses import dataclass

from ocpp.exceptions import OCPPError
from ocpp.v16.enums import Action

from app.extensions import db
from app.ocpp import schemas
from app.ocpp.failures import CommandFailed
from app.services import charge_points, charging, configuration, system_log
from app.services.connections import connections
from app.services.errors import Invalid, NotFound

# The statuses with which a charge point says it will do what was asked. AcceptedCanceled (GetLog,
# SignedUpdateFirmware): accepted, and an ongoing request of the same kind canceled for it.
ACCEPTING_STATUSES = frozenset({"Accepted", "Unlocked", "Scheduled", "RebootRequired", "AcceptedCanceled"})


# What the central system keeps of a charge point's answer, whichever endpoint sent the command.
_RECORDERS = {
    Action.get_configuration: configuration.record_reported,
    Action.change_configuration: configuration.record_changed,
}


@dataclass
class CommandOutcome:
    action: str
    charge_point_id: str
    success: bool
    message: str
    reply: dict
    transaction_id: int | None = None  # remote-stop: the transaction asked to stop
    result: dict | None = None         # generic: the CALLRESULT payload
    subject: object | None = None      # what the command made or changed (a reservation, a profile)


def send(charge_point_id: str, action: str, payload: dict) -> CommandOutcome:
    """Send one CALL and describe the charge point's answer; raises NotFound, Invalid, CommandFailed."""
    charge_points.require(charge_point_id)
    try:
        schemas.validate(schemas.request_schema(action), payload)
    except OCPPError as violation:
        raise Invalid(f"the {action} payload breaks the OCPP 1.6 schema: {violation.description}",
                      {"payload": violation.details, "errorCode": violation.code}) from None
    # Waiting for a charge point must not hold a database connection (SQLite has one per process).
    db.session.close()
    try:
        reply = connections().call(charge_point_id, action, payload)
    except CommandFailed as failure:
        system_log.warning("command_failed", f"{action} failed: {failure}", charge_point_id=charge_point_id,
                           details={"action": action, "payload": system_log.redacted(payload)})
        raise
    recorder = _RECORDERS.get(action)
    if recorder is not None:
        recorder(charge_point_id, payload, reply)
    status = reply.get("status")
    success = status is None or status in ACCEPTING_STATUSES
    message = f"{action} {'accepted' if success else 'refused'} by {charge_point_id}" + \
        (f" (status {status})" if status else "")
    system_log.info("command", message, charge_point_id=charge_point_id,
                    details={"action": action, "payload": system_log.redacted(payload),
                             "reply": system_log.redacted(reply)})
    return CommandOutcome(action, charge_point_id, success, message, reply)


def remote_start(charge_point_id: str, id_tag: str, connector_id: int | None = None,
                 charging_profile: dict | None = None) -> CommandOutcome:
    """RemoteStartTransaction; a charging profile comes numbered (see smart_charging.remote_start)."""
    payload = {"idTag": id_tag}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    if charging_profile is not None:
        payload["chargingProfile"] = charging_profile
    return send(charge_point_id, Action.remote_start_transaction, payload)


def remote_stop(charge_point_id: str, transaction_id: int | None = None,
                connector_id: int | None = None) -> CommandOutcome:
    """Stop a transaction by id, or the one running on connector_id (NotFound when none runs)."""
    if transaction_id is None:
        charge_points.require(charge_point_id)
        running = charging.running_transaction_on(charge_point_id, connector_id)
        if running is None:
            raise NotFound(f"no transaction is running on connector {connector_id} of {charge_point_id}",
                           {"chargePointId": charge_point_id, "connectorId": connector_id})
        transaction_id = running.id
    outcome = send(charge_point_id, Action.remote_stop_transaction, {"transactionId": transaction_id})
    outcome.transaction_id = transaction_id
    return outcome


def reset(charge_point_id: str, reset_type: str) -> CommandOutcome:
    return send(charge_point_id, Action.reset, {"type": reset_type})


def unlock_connector(charge_point_id: str, connector_id: int) -> CommandOutcome:
    return send(charge_point_id, Action.unlock_connector, {"connectorId": connector_id})


def get_configuration(charge_point_id: str, keys: list[str] | None = None) -> CommandOutcome:
    return send(charge_point_id, Action.get_configuration, {"key": keys} if keys else {})


def change_configuration(charge_point_id: str, key: str, value: str) -> CommandOutcome:
    return send(charge_point_id, Action.change_configuration, {"key": key, "value": value})


def clear_cache(charge_point_id: str) -> CommandOutcome:
    return send(charge_point_id, Action.clear_cache, {})


def trigger_message(charge_point_id: str, requested_message: str,
                    connector_id: int | None = None) -> CommandOutcome:
    payload = {"requestedMessage": requested_message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    return send(charge_point_id, Action.trigger_message, payload)


def extended_trigger_message(charge_point_id: str, requested_message: str,
                             connector_id: int | None = None) -> CommandOutcome:
    payload = {"requestedMessage": requested_message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    return send(charge_point_id, Action.extended_trigger_message, payload)


def change_availability(charge_point_id: str, connector_id: int, availability_type: str) -> CommandOutcome:
    return send(charge_point_id, Action.change_availability, {"connectorId": connector_id, "type": availability_type})


def generic(charge_point_id: str, action: str, payload: dict) -> CommandOutcome:
    """Any central-system-initiated OCPP 1.6 action, its payload checked against the action's schema."""
    outcome = send(charge_point_id, action, payload)
    outcome.result = outcome.reply
    return outcome
