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
