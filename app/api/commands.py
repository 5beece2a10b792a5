"""Commands: each a real OCPP CALL to the connected charge point; the answer carries its reply.

Every command is a row of app/command_table.py (body schema, service call, result schema), which the
console's forms use too; only GET /get-configuration (keys in the query) is this edge's own."""
from app.api.blueprint import Blueprint
from app.command_table import COMMANDS, Command
from app.errors import ErrorSchema
from app.schemas import CommandResultSchema, GetConfigurationQuery
from app.services import commands

bp = Blueprint("commands", __name__, url_prefix="/api/commands", description=(
    "OCPP commands to a connected charge point. 200 when it answered (success says whether it accepted), "
    "404 unknown charge point, 409 not connected, 502 it answered with a CALLERROR, 504 no answer in time."))


def command(path: str, body_schema, methods=("POST",), location="json", result_schema=CommandResultSchema):
    """Route a command view: body (or query) validated by body_schema, the outcome as result_schema."""
    def decorate(view):
        view = bp.response(200, result_schema)(view)
        for status, description in ((404, "Unknown charge point"), (409, "Charge point not connected"),
                                    (502, "The charge point answered with a CALLERROR"),
                                    (504, "The charge point did not answer in time")):
            view = bp.alt_response(status, schema=ErrorSchema, description=description)(view)
        view = bp.arguments(body_schema, location=location)(view)
        return bp.route(path, methods=list(methods))(view)
    return decorate


@command("/get-configuration", GetConfigurationQuery, methods=("GET",), location="query")
def get_configuration_by_query(query):
    """GetConfiguration, keys=key1,key2 (all keys when absent)"""
    keys = [key.strip() for key in (query["keys"] or "").split(",") if key.strip()]
    return commands.get_configuration(query["charge_point_id"], keys)


def _route(entry: Command) -> None:
    def view(body):
        return entry.run(body)
    view.__name__ = entry.name.replace("-", "_")
    view.__doc__ = entry.description
    command(f"/{entry.name}", entry.body_schema, result_schema=entry.result_schema)(view)


for _entry in COMMANDS.values():
    _route(_entry)
