"""Commands: OCPP CALLs from the central system to a charge point, for the API, the console and the jobs.

The one outbound port: a service builds a typed request (the `ocpp` package's call.* dataclass,
snake_case) and send() returns the charge point's typed answer (call_result.*) in a CommandOutcome.
send() checks the request against its OCPP 1.6 schema, converts it to the wire (app.spec.wire),
releases the database session while the charge point answers, and logs the outcome. A charge point
that answers (even Rejected) gives an outcome; one that is not connected, does not answer or answers
with a CALLERROR raises failures.CommandFailed, the one failure type.

A command that keeps a record of what it asked (a reservation, a charging profile, a file transfer,
a DataTransfer) goes through send_recorded(), which owns the one policy for what a failure leaves:
see its docstring. The generic command hands the actions that keep a record to the service that
keeps it (recorded_by), so that it leaves the same records as the typed endpoint.
"""
from dataclasses import dataclass
from typing import Callable

from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from ocpp.v16.enums import Action
from sqlalchemy import delete, update

from app.extensions import db
from app.services import charging, configuration, lookups, system_log
from app.services.connections import connections
from app.services.errors import Invalid, NotFound
from app.spec import schemas, wire
from app.spec.failures import CommandFailed, NotConnected
from app.timeutil import utcnow

# The statuses with which a charge point says it will do what was asked. AcceptedCanceled (GetLog,
# SignedUpdateFirmware): accepted, and an ongoing request of the same kind canceled for it.
ACCEPTING_STATUSES = frozenset({"Accepted", "Unlocked", "Scheduled", "RebootRequired", "AcceptedCanceled"})
# A recorded command's status while the charge point has not answered, and where no valid answer came.
REQUESTED, FAILED = "Requested", "Failed"


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
    reply: dict                        # the CALLRESULT as the charge point sent it (camelCase, for the API)
    transaction_id: int | None = None  # remote-stop: the transaction asked to stop
    result: dict | None = None         # generic: the CALLRESULT payload
    subject: object | None = None      # what the command made or changed (a reservation, a profile)
    response: object | None = None     # the CALLRESULT as a call_result.* dataclass

    @property
    def status(self) -> str | None:
        return getattr(self.response, "status", None)


def checked_payload(charge_point_id: str, action: str, payload: dict) -> dict:
    """The wire payload of a CALL, checked against the action's OCPP 1.6 schema; raises NotFound, Invalid."""
    lookups.charge_point(charge_point_id)
    try:
        schemas.validate(schemas.request_schema(action), payload)
    except OCPPError as violation:
        raise Invalid(f"the {action} payload breaks the OCPP 1.6 schema: {violation.description}",
                      {"payload": violation.details, "errorCode": violation.code}) from None
    return payload


def send(charge_point_id: str, request) -> CommandOutcome:
    """Send one CALL (a call.* dataclass) and describe the charge point's answer; raises NotFound,
    Invalid, CommandFailed."""
    action = wire.action(request)
    payload = checked_payload(charge_point_id, action, wire.payload(request))
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
    return CommandOutcome(action, charge_point_id, success, message, reply, response=wire.result(action, reply))


def send_many(calls: list[tuple[str, object]], timeout: float | None = None) -> list:
    """Send CALLs (charge point id, call.* dataclass) side by side, for the jobs: each result is a
    call_result.* dataclass or the CommandFailed it came to. Nothing is logged per CALL."""
    wire_calls = [(charge_point_id, wire.action(request), wire.payload(request)) for charge_point_id, request in calls]
    db.session.close()  # no database connection is held while charge points answer
    return [reply if isinstance(reply, CommandFailed) else wire.result(action, reply)
            for (_, action, _), reply in zip(wire_calls, connections().call_many(wire_calls, timeout))]


def send_recorded(charge_point_id: str, record, request_for: Callable[[int], object],
                  answered: Callable[[int, CommandOutcome], None] | None = None) -> CommandOutcome:
    """Store `record` (a new row with a status), send the request it numbers, keep the answer as its status.

    The one policy of the commands that keep a record:
    - the record is stored (status Requested) before the CALL, so that its id can number the request
      (reservationId, chargingProfileId, requestId) and a crash while waiting leaves a trace;
    - not sent (the charge point is not connected, or the request breaks the schema): the record is
      removed, the charge point cannot have acted on it, and the failure is raised (409 or 400);
    - sent but no valid answer (no answer in time, a CALLERROR, a reply that breaks the schema):
      the record stays with status Failed, since the charge point may have acted on it, and the
      failure is raised (504 or 502);
    - answered: the record takes the answer's status (Accepted where the reply has none), then
      `answered` adds what else the answer means; the outcome's subject is the record.
    """
    lookups.charge_point(charge_point_id)
    record.status = REQUESTED
    db.session.add(record)
    db.session.commit()
    model, record_id = type(record), record.id
    try:
        outcome = send(charge_point_id, request_for(record_id))
    except (NotConnected, Invalid):
        db.session.rollback()
        db.session.execute(delete(model).where(model.id == record_id))
        db.session.commit()
        raise
    except CommandFailed:
        _set_status(model, record_id, FAILED)
        raise
    _set_status(model, record_id, outcome.status or "Accepted")
    if answered is not None:
        answered(record_id, outcome)
    outcome.subject = db.session.get(model, record_id)
    return outcome


def _set_status(model, record_id: int, status: str) -> None:
    changes = {"status": status, **({"updated_at": utcnow()} if hasattr(model, "updated_at") else {})}
    db.session.execute(update(model).where(model.id == record_id).values(**changes))
    db.session.commit()


# The services whose commands keep a record, by action: the generic command hands such an action to
# its service (which numbers the request by its record, as the typed endpoint does).
_RECORDED: dict[str, Callable[[str, object], CommandOutcome]] = {}


def recorded_by(action: Action) -> Callable:
    """Register the decorated function (charge point id, call.* request) as the one that sends
    `action` and keeps its record."""
    def register(function):
        _RECORDED[action] = function
        return function
    return register


def remote_start(charge_point_id: str, id_tag: str, connector_id: int | None = None,
                 charging_profile: dict | None = None) -> CommandOutcome:
    """RemoteStartTransaction; a charging profile (snake_case) comes numbered (see smart_charging.remote_start)."""
    return send(charge_point_id, call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id,
                                                             charging_profile=charging_profile))


def remote_stop(charge_point_id: str, transaction_id: int | None = None,
                connector_id: int | None = None) -> CommandOutcome:
    """Stop a transaction by id, or the one running on connector_id (NotFound when none runs)."""
    if transaction_id is None:
        lookups.charge_point(charge_point_id)
        running = charging.running_transaction_on(charge_point_id, connector_id)
        if running is None:
            raise NotFound(f"no transaction is running on connector {connector_id} of {charge_point_id}",
                           {"chargePointId": charge_point_id, "connectorId": connector_id})
        transaction_id = running.id
    outcome = send(charge_point_id, call.RemoteStopTransaction(transaction_id=transaction_id))
    outcome.transaction_id = transaction_id
    return outcome


def reset(charge_point_id: str, reset_type: str) -> CommandOutcome:
    return send(charge_point_id, call.Reset(type=reset_type))


def unlock_connector(charge_point_id: str, connector_id: int) -> CommandOutcome:
    return send(charge_point_id, call.UnlockConnector(connector_id=connector_id))


def get_configuration(charge_point_id: str, keys: list[str] | None = None) -> CommandOutcome:
    return send(charge_point_id, call.GetConfiguration(key=keys or None))


def change_configuration(charge_point_id: str, key: str, value: str) -> CommandOutcome:
    return send(charge_point_id, call.ChangeConfiguration(key=key, value=value))


def clear_cache(charge_point_id: str) -> CommandOutcome:
    return send(charge_point_id, call.ClearCache())


def trigger_message(charge_point_id: str, requested_message: str,
                    connector_id: int | None = None) -> CommandOutcome:
    return send(charge_point_id, call.TriggerMessage(requested_message=requested_message, connector_id=connector_id))


def extended_trigger_message(charge_point_id: str, requested_message: str,
                             connector_id: int | None = None) -> CommandOutcome:
    return send(charge_point_id, call.ExtendedTriggerMessage(requested_message=requested_message,
                                                             connector_id=connector_id))


def change_availability(charge_point_id: str, connector_id: int, availability_type: str) -> CommandOutcome:
    return send(charge_point_id, call.ChangeAvailability(connector_id=connector_id, type=availability_type))


def generic(charge_point_id: str, action: str, payload: dict) -> CommandOutcome:
    """Any central-system-initiated OCPP 1.6 action, its payload checked against the action's schema.
    An action that keeps a record goes to its service: the same records as its typed endpoint."""
    request = wire.request(action, checked_payload(charge_point_id, action, payload))
    recorded = _RECORDED.get(action)
    outcome = recorded(charge_point_id, request) if recorded is not None else send(charge_point_id, request)
    outcome.result = outcome.reply
    return outcome
