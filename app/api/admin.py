"""Administrative actions."""
from app.api.auth import requester
from app.api.blueprint import Blueprint
from app.errors import ErrorSchema
from app.schemas import CloseTransactionBody, CloseTransactionResultSchema
from app.services import charging

bp = Blueprint("admin", __name__, url_prefix="/api/admin", description="Administration")


@bp.post("/close-transaction")
@bp.arguments(CloseTransactionBody)
@bp.response(200, CloseTransactionResultSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown transaction")
@bp.alt_response(409, schema=ErrorSchema, description="The transaction is already complete")
def close_transaction(body):
    """Close a transaction the charge point never stopped.

    finalEnergy (kWh) is what the transaction delivered; without it the last energy register reading
    stands. Recorded in the system log with who asked and why."""
    transaction = charging.close_by_administrator(body["transaction_id"], body["reason"], requester(),
                                                  body.get("final_energy"))
    return {"success": True, "message": f"transaction {body['transaction_id']} closed",
            "transaction_id": body["transaction_id"], "energy_delivered": transaction["energy_delivered"],
            "transaction": transaction}
