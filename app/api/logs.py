"""The system log."""
from app.api.blueprint import Blueprint
from app.schemas import LogQuery, LogSchema
from app.services import logs

bp = Blueprint("logs", __name__, url_prefix="/api", description="System log")


@bp.get("/logs")
@bp.arguments(LogQuery, location="query")
@bp.response(200, LogSchema(many=True))
def list_logs(query):
    """Events, newest first, filtered by chargePointId and level (INFO, WARNING, ERROR)"""
    return logs.find(query.get("charge_point_id"), query.get("level"), query["limit"], query["offset"])
