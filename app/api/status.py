"""GET /api/status."""
from app.api.blueprint import Blueprint
from app.schemas import StatusSchema
from app.services import server_status

bp = Blueprint("status", __name__, url_prefix="/api", description="Server status")


@bp.get("/status")
@bp.response(200, StatusSchema)
def status():
    """The server, its charge points, active transactions and its database"""
    return server_status.report()
