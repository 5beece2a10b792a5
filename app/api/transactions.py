"""Transactions."""
from flask import jsonify

from app.api.blueprint import Blueprint
from app.errors import ErrorSchema
from app.schemas import TransactionDetailSchema, TransactionQuery, TransactionSchema
from app.services import charging

bp = Blueprint("transactions", __name__, url_prefix="/api", description="Transactions")

transaction_detail = TransactionDetailSchema()


@bp.get("/transactions")
@bp.arguments(TransactionQuery, location="query")
@bp.response(200, TransactionSchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="transactionId given and not known")
def list_transactions(query):
    """Transactions, newest first, filtered by chargePointId and isComplete.

    With transactionId, the answer is that one transaction (an object, with its meterValues)."""
    if "transaction_id" in query:
        return jsonify(transaction_detail.dump(charging.details(query["transaction_id"])))
    return charging.find_transactions(query.get("charge_point_id"), query.get("is_complete"),
                                      limit=query["limit"], offset=query["offset"])


@bp.get("/transactions/<int:transaction_id>")
@bp.response(200, TransactionDetailSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown transaction")
def get_transaction(transaction_id):
    """One transaction with its meter values"""
    return charging.details(transaction_id)
