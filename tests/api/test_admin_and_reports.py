"""POST /api/admin/close-transaction and GET /api/reports/energy."""
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call

from tests.charge_points import connected, timestamp


async def start(charge_point, connector_id=1, meter_start=1000, at=None):
    started = await charge_point.call(call.StartTransaction(connector_id=connector_id, id_tag="ADMIN", meter_start=meter_start,
                                                            timestamp=at or timestamp()))
    return started.transaction_id


async def test_close_a_transaction_with_its_final_energy(server, api):
    async with connected(server) as charge_point:
        transaction_id = await start(charge_point)
    response = await api.post("/api/admin/close-transaction",
                              json={"transactionId": transaction_id, "finalEnergy": 10.5, "reason": "Administrative"})
    assert response.status_code == 200
    body = response.json()
    assert (body["success"], body["transactionId"], body["energyDelivered"]) == (True, transaction_id, 10.5)
    transaction = body["transaction"]
    assert (transaction["meterStop"], transaction["stopReason"], transaction["stoppedBy"], transaction["isComplete"]) == \
        (11_500, "Administrative", "CentralSystem", True)
    log = (await api.get("/api/logs", params={"chargePointId": charge_point.id, "level": "WARNING"})).json()[0]
    assert log["event"] == "transaction_closed" and "Administrative" in log["message"]
    assert log["details"]["requestedBy"].startswith("API client")
    again = await api.post("/api/admin/close-transaction", json={"transactionId": transaction_id})
    assert again.status_code == 409 and again.json()["error"] == "conflict"


async def test_close_without_final_energy_keeps_the_last_reading_until_the_charge_point_corrects_it(server, api):
    async with connected(server) as charge_point:
        transaction_id = await start(charge_point, meter_start=2000)
        await charge_point.call(call.MeterValues(connector_id=1, transaction_id=transaction_id, meter_value=[
            {"timestamp": timestamp(), "sampledValue": [{"value": "2750"}]}]))
        closed = (await api.post("/api/admin/close-transaction", json={"transactionId": transaction_id})).json()
        assert closed["energyDelivered"] == 0.75 and closed["transaction"]["stopReason"] == "Administrative"
        await charge_point.call(call.StopTransaction(transaction_id=transaction_id, meter_stop=3000,
                                                     timestamp=timestamp(), reason="Local"))
    corrected = (await api.get(f"/api/transactions/{transaction_id}")).json()
    assert (corrected["energyDelivered"], corrected["stopReason"], corrected["stoppedBy"]) == (1.0, "Local", "ChargePoint")


async def test_close_errors(api):
    assert (await api.post("/api/admin/close-transaction", json={"transactionId": 999_999_999})).status_code == 404
    assert (await api.post("/api/admin/close-transaction", json={})).status_code == 400
    negative = await api.post("/api/admin/close-transaction", json={"transactionId": 1, "finalEnergy": -1})
    assert negative.status_code == 400 and "finalEnergy" in negative.json()["details"]["json"]


async def test_energy_report_totals_per_charge_point_and_day(server, api):
    day_one = datetime(2021, 3, 14, 10, 0, tzinfo=timezone.utc)
    day_two = day_one + timedelta(days=1)
    iso = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
    async with connected(server) as first, connected(server) as second:
        a = await start(first, 1, 0, iso(day_one))
        await first.call(call.StopTransaction(transaction_id=a, meter_stop=4000, timestamp=iso(day_one + timedelta(hours=1))))
        b = await start(second, 1, 100, iso(day_two))
        await second.call(call.StopTransaction(transaction_id=b, meter_stop=1600, timestamp=iso(day_two + timedelta(hours=1))))
        c = await start(second, 2, 0, iso(day_two + timedelta(hours=2)))
        await second.call(call.MeterValues(connector_id=2, transaction_id=c, meter_value=[
            {"timestamp": iso(day_two + timedelta(hours=3)), "sampledValue": [{"value": "500"}]}]))
        await start(first, 2, 0, iso(day_two + timedelta(days=1)))  # the day after: outside the report
    report = (await api.get("/api/reports/energy", params={"startDate": "2021-03-14", "endDate": "2021-03-15"})).json()
    assert (report["startDate"], report["endDate"]) == ("2021-03-14", "2021-03-15")
    assert (report["totalEnergyDelivered"], report["transactionCount"], report["completeTransactions"],
            report["incompleteTransactions"]) == (6.0, 3, 2, 1)
    assert {row["chargePointId"]: (row["energyDelivered"], row["transactionCount"]) for row in report["byChargePoint"]} \
        == {first.id: (4.0, 1), second.id: (2.0, 2)}
    assert [(row["date"], row["energyDelivered"], row["transactionCount"]) for row in report["byDay"]] == \
        [("2021-03-14", 4.0, 1), ("2021-03-15", 2.0, 2)]
    assert [(t["transactionId"], t["energyDelivered"], t["complete"]) for t in report["transactions"]] == \
        [(a, 4.0, True), (b, 1.5, True), (c, 0.5, False)]
    assert set(report["transactions"][0]) >= {"chargePointId", "transactionId", "startTimestamp", "stopTimestamp",
                                              "energyDelivered", "idTag", "complete"}


async def test_energy_report_bad_dates(api):
    for params in ({"startDate": "2021-03-15", "endDate": "2021-03-14"}, {"startDate": "yesterday", "endDate": "2021-01-01"},
                   {"startDate": "2020-01-01", "endDate": "2022-01-01"}, {"endDate": "2021-01-01"}):
        response = await api.get("/api/reports/energy", params=params)
        assert response.status_code == 400, params
        assert response.json()["details"]["query"], params
