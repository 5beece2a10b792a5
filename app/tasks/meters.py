"""Meter value collection: charge points with a running transaction are asked for MeterValues."""
from flask import current_app
from ocpp.v16 import call
from ocpp.v16.enums import MessageTrigger, TriggerMessageStatus

from app.spec.failures import CommandFailed
from app.services import charging, commands
from app.services.connections import connections
from app.tasks import job


@job
def collect_meter_values() -> dict:
    """TriggerMessage(MeterValues) to the connector of each running transaction whose charge point is
    connected, side by side; the answers arrive as ordinary MeterValues and are stored as such."""
    running = charging.running_connectors()
    connected = connections().connected_among(list({charge_point_id for charge_point_id, _ in running}))
    calls = [(charge_point_id, call.TriggerMessage(requested_message=MessageTrigger.meter_values,
                                                   connector_id=connector_id))
             for charge_point_id, connector_id in running if charge_point_id in connected]
    results = commands.send_many(calls, current_app.config["OCPP_COMMAND_TIMEOUT"])
    accepted = sum(1 for result in results if getattr(result, "status", None) == TriggerMessageStatus.accepted)
    failed = sum(1 for result in results if isinstance(result, CommandFailed))
    return {"asked": len(calls), "accepted": accepted, "refused": len(calls) - accepted - failed, "failed": failed}
