"""Reservations, charging profiles and local authorization lists: what the central system keeps of them."""
from app.api.blueprint import Blueprint
from app.schemas import (ChargingProfileQuery, LocalListSyncBody, LocalListSyncResultSchema, ReservationQuery,
                         ReservationSchema, StoredChargingProfileSchema)
from app.services import local_lists, reservations, smart_charging
from app.services.commands import CommandOutcome

bp = Blueprint("smart_features", __name__, url_prefix="/api",
               description="Reservations, charging profiles, local authorization lists")


@bp.get("/reservations")
@bp.arguments(ReservationQuery, location="query")
@bp.response(200, ReservationSchema(many=True))
def list_reservations(query):
    """Reservations, newest first, by chargePointId and status"""
    return reservations.listing(query.get("charge_point_id"), query.get("status"), query["limit"], query["offset"])


@bp.get("/charging-profiles")
@bp.arguments(ChargingProfileQuery, location="query")
@bp.response(200, StoredChargingProfileSchema(many=True))
def list_charging_profiles(query):
    """Charging profiles sent, newest first, by chargePointId and status"""
    return smart_charging.listing(query.get("charge_point_id"), query.get("status"), query["limit"], query["offset"])


@bp.post("/local-list/sync")
@bp.arguments(LocalListSyncBody)
@bp.response(200, LocalListSyncResultSchema(many=True))
def sync_local_lists(body):
    """Bring the local authorization list of one charge point, or of every connected one, up to date"""
    if "charge_point_id" in body:
        results = [(body["charge_point_id"], local_lists.sync(body["charge_point_id"], body.get("update_type")))]
    else:
        results = local_lists.sync_connected(body.get("update_type"))
    return [_sync_result(charge_point_id, result) for charge_point_id, result in results]


def _sync_result(charge_point_id: str, result) -> dict:
    if isinstance(result, CommandOutcome):
        return {"charge_point_id": charge_point_id, "success": result.success, "message": result.message,
                "status": result.status}
    return {"charge_point_id": charge_point_id, "success": False, "message": str(result), "status": None}
