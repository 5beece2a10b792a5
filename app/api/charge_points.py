"""Charge points and their connectors."""
from app.errors import Blueprint, ErrorSchema
from app.schemas import ChargePointDetailSchema, ChargePointQuery, ChargePointSchema, ConnectorQuery, ConnectorSchema
from app.services import charge_points, connectors

bp = Blueprint("charge_points", __name__, url_prefix="/api", description="Charge points and connectors")


@bp.get("/charge-points")
@bp.arguments(ChargePointQuery, location="query")
@bp.response(200, ChargePointSchema(many=True))
def list_charge_points(query):
    """All charge points, by id, with their boot data and whether they are connected now"""
    return charge_points.listing(query["limit"], query["offset"])


@bp.get("/charge-points/<charge_point_id>")
@bp.response(200, ChargePointDetailSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def get_charge_point(charge_point_id):
    """One charge point with its connectors"""
    return charge_points.details(charge_point_id)


@bp.get("/connectors")
@bp.arguments(ConnectorQuery, location="query")
@bp.response(200, ConnectorSchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def list_connectors(query):
    """The connectors of a charge point (connector 0 is the charge point itself)"""
    charge_points.require(query["charge_point_id"])
    return connectors.states(query["charge_point_id"])
