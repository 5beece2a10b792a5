"""Reports."""
from app.api.blueprint import Blueprint
from app.schemas import EnergyReportQuery, EnergyReportSchema
from app.services import reports

bp = Blueprint("reports", __name__, url_prefix="/api/reports", description="Reports")


@bp.get("/energy")
@bp.arguments(EnergyReportQuery, location="query")
@bp.response(200, EnergyReportSchema)
def energy(query):
    """Energy delivered by transactions that started between startDate and endDate (UTC days, inclusive)"""
    return reports.energy_report(query["start_date"], query["end_date"])
