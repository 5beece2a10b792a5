"""Commands: each a real OCPP CALL to the connected charge point; the answer carries its reply."""
from app.errors import Blueprint, ErrorSchema
from app.schemas import (ChangeAvailabilityBody, ChangeConfigurationBody, ChargePointCommandBody, CommandResultSchema,
                         GenericCommandBody, GetConfigurationBody, GetConfigurationQuery, RemoteStartBody,
                         RemoteStopBody, ResetBody, TriggerMessageBody, UnlockConnectorBody)
from app.services import commands

bp = Blueprint("commands", __name__, url_prefix="/api/commands", description=(
    "OCPP commands to a connected charge point. 200 when it answered (success says whether it accepted), "
    "404 unknown charge point, 409 not connected, 502 it answered with a CALLERROR, 504 no answer in time."))


def command(path: str, body_schema, methods=("POST",), location="json"):
    """Route a command view: body (or query) validated by body_schema, the outcome as CommandResult."""
    def decorate(view):
        view = bp.response(200, CommandResultSchema)(view)
        for status, description in ((404, "Unknown charge point"), (409, "Charge point not connected"),
                                    (502, "The charge point answered with a CALLERROR"),
                                    (504, "The charge point did not answer in time")):
            view = bp.alt_response(status, schema=ErrorSchema, description=description)(view)
        view = bp.arguments(body_schema, location=location)(view)
        return bp.route(path, methods=list(methods))(view)
    return decorate


@command("/remote-start", RemoteStartBody)
def remote_start(body):
    """RemoteStartTransaction"""
    return commands.remote_start(body["charge_point_id"], body["id_tag"], body.get("connector_id"),
                                 body.get("charging_profile"))


@command("/remote-stop", RemoteStopBody)
def remote_stop(body):
    """RemoteStopTransaction, by transactionId or by the connector it runs on"""
    return commands.remote_stop(body["charge_point_id"], body.get("transaction_id"), body.get("connector_id"))


@command("/reset", ResetBody)
def reset(body):
    """Reset (Soft or Hard)"""
    return commands.reset(body["charge_point_id"], body["type"])


@command("/unlock-connector", UnlockConnectorBody)
def unlock_connector(body):
    """UnlockConnector"""
    return commands.unlock_connector(body["charge_point_id"], body["connector_id"])


@command("/get-configuration", GetConfigurationQuery, methods=("GET",), location="query")
def get_configuration_by_query(query):
    """GetConfiguration, keys=key1,key2 (all keys when absent)"""
    keys = [key.strip() for key in (query["keys"] or "").split(",") if key.strip()]
    return commands.get_configuration(query["charge_point_id"], keys)


@command("/get-configuration", GetConfigurationBody)
def get_configuration(body):
    """GetConfiguration with a list of keys (all keys when absent)"""
    return commands.get_configuration(body["charge_point_id"], body["keys"])


@command("/change-configuration", ChangeConfigurationBody)
def change_configuration(body):
    """ChangeConfiguration"""
    return commands.change_configuration(body["charge_point_id"], body["key"], body["value"])


@command("/clear-cache", ChargePointCommandBody)
def clear_cache(body):
    """ClearCache"""
    return commands.clear_cache(body["charge_point_id"])


@command("/trigger-message", TriggerMessageBody)
def trigger_message(body):
    """TriggerMessage: BootNotification, DiagnosticsStatusNotification, FirmwareStatusNotification,
    Heartbeat, MeterValues or StatusNotification"""
    return commands.trigger_message(body["charge_point_id"], body["requested_message"], body.get("connector_id"))


@command("/change-availability", ChangeAvailabilityBody)
def change_availability(body):
    """ChangeAvailability (Inoperative or Operative), connector 0 for the whole charge point"""
    return commands.change_availability(body["charge_point_id"], body["connector_id"], body["type"])


@command("/generic", GenericCommandBody)
def generic(body):
    """Any central-system-initiated OCPP 1.6 action, its payload validated against the action's schema"""
    return commands.generic(body["charge_point_id"], body["action"], body["payload"])
