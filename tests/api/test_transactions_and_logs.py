"""GET /api/transactions (filters, single view with meter values, energy in kWh) and GET /api/logs."""
from ocpp.v16 import call

from tests.charge_points import connected, eventually, timestamp


async def run_transactions(charge_point):
    """One complete transaction (2.5 kWh) and one running (1.2 kWh so far), on two connectors."""
    complete = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="A", meter_start=10_000,
                                                             timestamp=timestamp(-3600)))
    await charge_point.call(call.StopTransaction(transaction_id=complete.transaction_id, meter_stop=12_500,
                                                 timestamp=timestamp(-1800), reason="EVDisconnected"))
    running = await charge_point.call(call.StartTransaction(connector_id=2, id_tag="B", meter_start=500,
                                                            timestamp=timestamp(-600)))
    await charge_point.call(call.MeterValues(connector_id=2, transaction_id=running.transaction_id, meter_value=[
        {"timestamp": timestamp(-300), "sampledValue": [{"value": "1100"}]},
        {"timestamp": timestamp(-60), "sampledValue": [{"value": "1.7", "unit": "kWh"},
                                                       {"value": "3000", "measurand": "Power.Active.Import",
                                                        "unit": "W"}]}]))
    return complete.transaction_id, running.transaction_id


async def test_transactions_with_filters(server, api):
    async with connected(server) as charge_point:
        complete_id, running_id = await run_transactions(charge_point)
    listed = (await api.get("/api/transactions", params={"chargePointId": charge_point.id})).json()
    assert [t["transactionId"] for t in listed] == [running_id, complete_id]  # newest first
    complete, running = listed[1], listed[0]
    assert (complete["meterStart"], complete["meterStop"], complete["energyDelivered"], complete["isComplete"],
            complete["stopReason"], complete["idTag"], complete["connectorId"]) == \
        (10_000, 12_500, 2.5, True, "EVDisconnected", "A", 1)
    assert (running["meterStop"], running["energyDelivered"], running["isComplete"], running["stopTimestamp"]) == \
        (None, 1.2, False, None)
    assert complete["startTimestamp"].endswith("Z") and complete["stopTimestamp"].endswith("Z")
    only_complete = (await api.get("/api/transactions", params={"chargePointId": charge_point.id,
                                                                "isComplete": "true"})).json()
    only_running = (await api.get("/api/transactions", params={"chargePointId": charge_point.id,
                                                               "isComplete": "false"})).json()
    assert [t["transactionId"] for t in only_complete] == [complete_id]
    assert [t["transactionId"] for t in only_running] == [running_id]


async def test_one_transaction_with_its_meter_values(server, api):
    async with connected(server) as charge_point:
        _, running_id = await run_transactions(charge_point)
    by_query = (await api.get("/api/transactions", params={"transactionId": running_id})).json()
    by_path = (await api.get(f"/api/transactions/{running_id}")).json()
    assert by_query == by_path
    assert by_query["transactionId"] == running_id
    samples = by_query["meterValues"]
    assert [(s["value"], s["measurand"], s["unit"]) for s in samples] == [
        ("1100", "Energy.Active.Import.Register", "Wh"), ("1.7", "Energy.Active.Import.Register", "kWh"),
        ("3000", "Power.Active.Import", "W")]
    assert samples[0]["phase"] is None and samples[0]["context"] == "Sample.Periodic"


async def test_unknown_transaction_and_bad_filters(api):
    assert (await api.get("/api/transactions", params={"transactionId": 999_999_999})).status_code == 404
    assert (await api.get("/api/transactions/999999999")).status_code == 404
    bad = await api.get("/api/transactions", params={"isComplete": "perhaps"})
    assert bad.status_code == 400 and "isComplete" in bad.json()["details"]["query"]
    assert (await api.get("/api/transactions", params={"transactionId": "abc"})).status_code == 400


async def test_logs_newest_first_with_filters_and_paging(server, api):
    async with connected(server) as charge_point:
        await charge_point.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await charge_point.call(call.StartTransaction(connector_id=1, id_tag="X", meter_start=0, timestamp=timestamp()))
    await eventually(lambda: server.database.scalar(
        "SELECT count(*) FROM system_logs WHERE charge_point_id = :id AND event = 'disconnected'", id=charge_point.id))
    logs = (await api.get("/api/logs", params={"chargePointId": charge_point.id})).json()
    events = [entry["event"] for entry in logs]
    assert events == ["disconnected", "transaction_started", "boot", "connected"]
    assert all(entry["chargePointId"] == charge_point.id for entry in logs)
    assert all(entry["timestamp"].endswith("Z") for entry in logs)
    page = (await api.get("/api/logs", params={"chargePointId": charge_point.id, "limit": 1, "offset": 1})).json()
    assert page == logs[1:2]
    warnings = (await api.get("/api/logs", params={"level": "WARNING", "limit": 5})).json()
    assert all(entry["level"] == "WARNING" for entry in warnings) and len(warnings) <= 5


async def test_logs_default_limit_and_bad_parameters(api):
    assert len((await api.get("/api/logs")).json()) <= 100
    assert (await api.get("/api/logs", params={"limit": 5000})).status_code == 400
    assert (await api.get("/api/logs", params={"limit": 0})).status_code == 400
    assert (await api.get("/api/logs", params={"offset": -1})).status_code == 400
    bad_level = await api.get("/api/logs", params={"level": "DEBUGGING"})
    assert bad_level.status_code == 400 and "level" in bad_level.json()["details"]["query"]
