"""The OpenAPI document lists every endpoint of the seed's API reference with its schemas."""
SEED_ENDPOINTS = {
    ("get", "/api/status"), ("get", "/api/charge-points"), ("get", "/api/charge-points/{charge_point_id}"),
    ("get", "/api/connectors"), ("get", "/api/transactions"), ("get", "/api/logs"),
    ("get", "/api/authorizations"), ("post", "/api/authorizations"), ("delete", "/api/authorizations"),
    ("post", "/api/commands/remote-start"), ("post", "/api/commands/remote-stop"), ("post", "/api/commands/reset"),
    ("post", "/api/commands/unlock-connector"), ("get", "/api/commands/get-configuration"),
    ("post", "/api/commands/get-configuration"), ("post", "/api/commands/change-configuration"),
    ("post", "/api/commands/clear-cache"), ("post", "/api/commands/trigger-message"),
    ("post", "/api/commands/generic"), ("post", "/api/admin/close-transaction"), ("get", "/api/reports/energy"),
    ("post", "/api/commands/change-availability"),
}


async def test_every_endpoint_is_documented_with_its_schemas(api):
    document = (await api.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    documented = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert SEED_ENDPOINTS <= documented
    schemas = document["components"]["schemas"]
    for name in ("Status", "ChargePoint", "ChargePointDetail", "Transaction", "Log", "IdTag", "CommandResult",
                 "EnergyReport", "Error", "RemoteStartBody", "CloseTransactionBody"):
        assert name in schemas, name
    assert "energyDelivered" in schemas["Transaction"]["properties"]
    reset = document["paths"]["/api/commands/reset"]["post"]
    assert {"200", "400", "404", "409", "502", "504"} <= set(reset["responses"])


TYPED_COMMANDS = {
    "CancelReservation": "cancel-reservation", "ChangeAvailability": "change-availability",
    "ChangeConfiguration": "change-configuration", "ClearCache": "clear-cache",
    "ClearChargingProfile": "clear-charging-profile", "DataTransfer": "data-transfer",
    "GetCompositeSchedule": "get-composite-schedule", "GetConfiguration": "get-configuration",
    "GetDiagnostics": "get-diagnostics", "GetLocalListVersion": "get-local-list-version",
    "RemoteStartTransaction": "remote-start", "RemoteStopTransaction": "remote-stop", "ReserveNow": "reserve-now",
    "Reset": "reset", "SendLocalList": "send-local-list", "SetChargingProfile": "set-charging-profile",
    "TriggerMessage": "trigger-message", "UnlockConnector": "unlock-connector", "UpdateFirmware": "update-firmware",
}


SECURITY_COMMANDS = {
    "CertificateSigned": "certificate-signed", "DeleteCertificate": "delete-certificate",
    "ExtendedTriggerMessage": "extended-trigger-message", "GetInstalledCertificateIds": "get-installed-certificate-ids",
    "GetLog": "get-log", "InstallCertificate": "install-certificate", "SignedUpdateFirmware": "signed-update-firmware",
}


async def test_every_central_system_action_of_ocpp_16_has_a_typed_endpoint(api):
    from app.spec.schemas import CENTRAL_SYSTEM_ACTIONS
    core = {action for action in CENTRAL_SYSTEM_ACTIONS if action in TYPED_COMMANDS}
    assert len(core) == 19 and set(TYPED_COMMANDS) == core
    assert set(CENTRAL_SYSTEM_ACTIONS) == set(TYPED_COMMANDS) | set(SECURITY_COMMANDS)  # the Security Whitepaper's too
    paths = (await api.get("/api/openapi.json")).json()["paths"]
    for path in [*TYPED_COMMANDS.values(), *SECURITY_COMMANDS.values(), "change-password"]:
        assert "post" in paths[f"/api/commands/{path}"], path
    for path in ("/api/reservations", "/api/charging-profiles", "/api/local-list/sync",
                 "/api/charge-points/{charge_point_id}/configuration", "/api/charge-points/{charge_point_id}/file-transfers",
                 "/api/charge-points/{charge_point_id}/security-events",
                 "/api/charge-points/{charge_point_id}/certificate-signing-requests",
                 "/api/charge-points/{charge_point_id}/certificates",
                 "/api/charge-points/{charge_point_id}/data-transfers"):
        assert path in paths, path
