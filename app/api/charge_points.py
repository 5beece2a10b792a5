"""Charge points and their connectors."""
from app.api.blueprint import Blueprint
from app.errors import ErrorSchema
from app.schemas import (CertificateSigningRequestSchema, ChargePointDetailSchema, ChargePointQuery,
                         ChargePointRegistrationBody, ChargePointSchema, ChargePointSettingsBody,
                         ConfigurationKeySchema, ConnectorQuery, ConnectorSchema, DataTransferSchema, DeleteChargePointQuery,
                         InstalledCertificateSchema,
                         FileTransfersSchema, MessageSchema, PageQuery, PasswordBody, SecurityEventSchema)
from app.services import (certificates, charge_points, configuration, connectors, data_transfers, file_transfers,
                          security_events)

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


@bp.post("/charge-points")
@bp.arguments(ChargePointRegistrationBody)
@bp.response(201, ChargePointDetailSchema)
@bp.alt_response(409, schema=ErrorSchema, description="The id is taken")
def register_charge_point(body):
    """Register a charge point (needed with OCPP_UNKNOWN_CHARGE_POINTS=reject, or to give it a password)"""
    return charge_points.register(body["id"], body["registration_status"], body.get("security_profile"),
                                  body.get("validation_mode"), body.get("password"))


@bp.patch("/charge-points/<charge_point_id>")
@bp.arguments(ChargePointSettingsBody)
@bp.response(200, ChargePointDetailSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def update_charge_point(body, charge_point_id):
    """Change its registration status, security profile or validation mode (null: the server's default)"""
    return charge_points.change(charge_point_id, **body)


@bp.delete("/charge-points/<charge_point_id>")
@bp.arguments(DeleteChargePointQuery, location="query")
@bp.response(200, MessageSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
@bp.alt_response(409, schema=ErrorSchema, description="It has transactions (and force is not set)")
def delete_charge_point(query, charge_point_id):
    """Delete a charge point (and close its connection); with force=true, its transactions too"""
    charge_points.delete(charge_point_id, query["force"])
    return {"success": True, "message": f"charge point {charge_point_id} deleted"}


@bp.put("/charge-points/<charge_point_id>/password")
@bp.arguments(PasswordBody)
@bp.response(200, MessageSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def set_password(body, charge_point_id):
    """Set the password (AuthorizationKey) it authenticates with; it is stored hashed and never returned"""
    charge_points.change_password(charge_point_id, body["password"])
    return {"success": True, "message": f"password of {charge_point_id} set"}


@bp.delete("/charge-points/<charge_point_id>/password")
@bp.response(200, MessageSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def remove_password(charge_point_id):
    """Remove its password"""
    charge_points.change_password(charge_point_id, None)
    return {"success": True, "message": f"password of {charge_point_id} removed"}


@bp.get("/charge-points/<charge_point_id>/configuration")
@bp.response(200, ConfigurationKeySchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def last_known_configuration(charge_point_id):
    """Its configuration as it last reported (GetConfiguration) or accepted (ChangeConfiguration) it"""
    charge_points.require(charge_point_id)
    return configuration.last_known(charge_point_id)


@bp.get("/charge-points/<charge_point_id>/file-transfers")
@bp.response(200, FileTransfersSchema)
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def file_transfer_history(charge_point_id):
    """Firmware, diagnostics and log status with their history, and the UpdateFirmware/GetDiagnostics sent"""
    return file_transfers.history(charge_point_id)


@bp.get("/charge-points/<charge_point_id>/security-events")
@bp.arguments(PageQuery, location="query")
@bp.response(200, SecurityEventSchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def list_security_events(query, charge_point_id):
    """What it reported with SecurityEventNotification, newest first"""
    return security_events.events(charge_point_id, query["limit"], query["offset"])


@bp.get("/charge-points/<charge_point_id>/certificate-signing-requests")
@bp.arguments(PageQuery, location="query")
@bp.response(200, CertificateSigningRequestSchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def list_certificate_signing_requests(query, charge_point_id):
    """The CSRs it sent with SignCertificate, newest first, with what became of them (signed by the built-in CA
    where one is configured; else sign them with your CA and send the chain with /api/commands/certificate-signed)"""
    return security_events.signing_requests(charge_point_id, query["limit"], query["offset"])


@bp.get("/charge-points/<charge_point_id>/data-transfers")
@bp.arguments(PageQuery, location="query")
@bp.response(200, DataTransferSchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def list_data_transfers(query, charge_point_id):
    """Its DataTransfers both ways (initiatedBy ChargePoint or CentralSystem) with their answers, newest first"""
    return data_transfers.listing(charge_point_id, query["limit"], query["offset"])


@bp.get("/charge-points/<charge_point_id>/certificates")
@bp.response(200, InstalledCertificateSchema(many=True))
@bp.alt_response(404, schema=ErrorSchema, description="Unknown charge point")
def list_installed_certificates(charge_point_id):
    """Its installed certificates as far as known (InstallCertificate accepted, GetInstalledCertificateIds reported)"""
    return certificates.inventory(charge_point_id)
