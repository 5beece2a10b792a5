"""The idTags (RFID cards, tokens) that Authorize and StartTransaction check."""
from flask import jsonify

from app.api.blueprint import Blueprint
from app.errors import ErrorSchema
from app.schemas import IdTagBody, IdTagQuery, IdTagSchema, MessageSchema, RequiredIdTagQuery
from app.services import id_tags

bp = Blueprint("authorizations", __name__, url_prefix="/api", description="Authorizations (idTags)")

id_tag_schema = IdTagSchema()


@bp.get("/authorizations")
@bp.arguments(IdTagQuery, location="query")
@bp.response(200, IdTagSchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="idTag given and not known")
def list_id_tags(query):
    """All idTags; with idTag, that one (an object)"""
    if "id_tag" in query:
        return jsonify(id_tag_schema.dump(id_tags.require(query["id_tag"])))
    return id_tags.listing()


@bp.post("/authorizations")
@bp.arguments(IdTagBody)
@bp.response(200, IdTagSchema, description="Updated")
@bp.alt_response(201, schema=IdTagSchema, description="Created")
def save_id_tag(body):
    """Create an idTag, or update its status, expiryDate and parentIdTag"""
    tag, created = id_tags.save(body["id_tag"], body["status"], body["expiry_date"], body["parent_id_tag"])
    return tag, 201 if created else 200


@bp.delete("/authorizations")
@bp.arguments(RequiredIdTagQuery, location="query")
@bp.response(200, MessageSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown idTag")
def delete_id_tag(query):
    """Delete an idTag"""
    id_tags.delete(query["id_tag"])
    return {"success": True, "message": f"idTag {query['id_tag']} deleted"}
