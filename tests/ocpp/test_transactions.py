"""Transactions end to end: start, meter values, stop with transactionData; retries that add nothing."""
from ocpp.v16 import call

from tests.charge_points import connected, new_id, timestamp
from tests.ocpp.test_core_messages import add_id_tag


def sample(value, **fields):
    return {"value": str(value), **fields}


async def test_a_whole_transaction_is_persisted(server, db):
    id_tag = new_id("T")[-12:]
    add_id_tag(db, id_tag)
    async with connected(server) as charge_point:
        assert (await charge_point.call(call.Authorize(id_tag=id_tag))).id_tag_info["status"] == "Accepted"
        started = await charge_point.call(call.StartTransaction(
            connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=timestamp(-600), reservation_id=5))
        assert started.id_tag_info["status"] == "Accepted"
        transaction_id = started.transaction_id
        await charge_point.call(call.MeterValues(connector_id=1, transaction_id=transaction_id, meter_value=[{
            "timestamp": timestamp(-300),
            "sampledValue": [
                sample(4000),
                sample(7.2, measurand="Power.Active.Import", unit="kW"),
                sample(16, measurand="Current.Import", unit="A", phase="L1"),
                sample(16.1, measurand="Current.Import", unit="A", phase="L2"),
                sample(230, measurand="Voltage", unit="V", phase="L1-N", location="Inlet", context="Sample.Clock",
                       format="Raw"),
            ]}]))
        stopped = await charge_point.call(call.StopTransaction(
            transaction_id=transaction_id, meter_stop=8500, timestamp=timestamp(), id_tag=id_tag,
            reason="EVDisconnected", transaction_data=[
                {"timestamp": timestamp(-600), "sampledValue": [sample(1000, context="Transaction.Begin")]},
                {"timestamp": timestamp(), "sampledValue": [sample(8.5, context="Transaction.End", unit="kWh")]},
            ]))
        assert stopped.id_tag_info["status"] == "Accepted"
    transaction = db.rows("SELECT * FROM transactions WHERE id = :id", id=transaction_id)[0]
    assert (transaction["charge_point_id"], transaction["connector_id"], transaction["id_tag"],
            transaction["meter_start"], transaction["meter_stop"], transaction["stop_reason"],
            transaction["reservation_id"], transaction["stopped_by"], transaction["stop_id_tag"]) == \
        (charge_point.id, 1, id_tag, 1000, 8500, "EVDisconnected", 5, "ChargePoint", id_tag)
    samples = db.rows("SELECT * FROM meter_values WHERE transaction_id = :id ORDER BY id", id=transaction_id)
    assert len(samples) == 7
    energy = samples[0]
    # The spec's defaults are stored explicitly.
    assert (energy["value"], energy["measurand"], energy["unit"], energy["context"], energy["format"],
            energy["location"], energy["phase"]) == \
        ("4000", "Energy.Active.Import.Register", "Wh", "Sample.Periodic", "Raw", "Outlet", "")
    voltage = samples[4]
    assert (voltage["measurand"], voltage["phase"], voltage["location"], voltage["context"]) == \
        ("Voltage", "L1-N", "Inlet", "Sample.Clock")
    assert [s["context"] for s in samples[5:]] == ["Transaction.Begin", "Transaction.End"]


async def test_transaction_ids_are_unique_and_a_retried_start_gets_the_same_one(server, db):
    started_at = timestamp()
    async with connected(server) as charge_point:
        first = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=0,
                                                              timestamp=started_at))
        retry = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=0,
                                                              timestamp=started_at))
        other = await charge_point.call(call.StartTransaction(connector_id=2, id_tag="ANY2", meter_start=0,
                                                              timestamp=started_at))
    assert first.transaction_id == retry.transaction_id
    assert first.id_tag_info == retry.id_tag_info == {"status": "Invalid"}
    assert other.transaction_id != first.transaction_id
    assert db.scalar("SELECT count(*) FROM transactions WHERE charge_point_id = :id", id=charge_point.id) == 2


async def test_a_retried_start_after_reconnecting_gets_the_same_id(server, db):
    charge_point_id, started_at = new_id(), timestamp()
    start = call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=10, timestamp=started_at)
    async with connected(server, charge_point_id) as charge_point:
        first = await charge_point.call(start)
    async with connected(server, charge_point_id) as charge_point:
        again = await charge_point.call(start)
    assert first.transaction_id == again.transaction_id


async def test_repeated_stop_and_meter_values_add_no_rows(server, db):
    async with connected(server) as charge_point:
        started = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=0,
                                                                timestamp=timestamp(-60)))
        meter_values = call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
            {"timestamp": timestamp(-30), "sampledValue": [sample(100), sample(3.1, measurand="Power.Active.Import",
                                                                           unit="kW")]}])
        stop = call.StopTransaction(transaction_id=started.transaction_id, meter_stop=200, timestamp=timestamp(),
                                    transaction_data=[{"timestamp": timestamp(), "sampledValue": [sample(200)]}])
        for _ in range(3):
            await charge_point.call(meter_values)
        for _ in range(2):
            await charge_point.call(stop)
    assert db.scalar("SELECT count(*) FROM meter_values WHERE transaction_id = :id", id=started.transaction_id) == 3
    assert db.scalar("SELECT count(*) FROM system_logs WHERE charge_point_id = :id AND event = 'transaction_stopped'",
                     id=charge_point.id) == 1


async def test_stop_for_a_transaction_never_started_is_answered(server, db):
    async with connected(server) as charge_point:
        stopped = await charge_point.call(call.StopTransaction(
            transaction_id=-1, meter_stop=500, timestamp=timestamp(), id_tag="WHO",
            transaction_data=[{"timestamp": timestamp(), "sampledValue": [sample(500)]}]))
        assert stopped.id_tag_info == {"status": "Invalid"}
        assert await charge_point.call(call.MeterValues(connector_id=1, transaction_id=987654321, meter_value=[
            {"timestamp": timestamp(), "sampledValue": [sample(1)]}])) is not None
    assert db.scalar("SELECT count(*) FROM meter_values WHERE charge_point_id = :id AND transaction_id IS NULL",
                     id=charge_point.id) == 2
    assert db.scalar("SELECT count(*) FROM system_logs WHERE charge_point_id = :id AND event = 'unknown_transaction'",
                     id=charge_point.id) == 2


async def test_another_charge_points_transaction_cannot_be_stopped(server, db):
    async with connected(server) as owner:
        started = await owner.call(call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=0,
                                                         timestamp=timestamp()))
    async with connected(server) as intruder:
        await intruder.call(call.StopTransaction(transaction_id=started.transaction_id, meter_stop=99,
                                                 timestamp=timestamp()))
    assert db.scalar("SELECT stop_timestamp FROM transactions WHERE id = :id", id=started.transaction_id) is None


async def test_a_new_start_on_a_busy_connector_closes_the_old_transaction(server, db):
    async with connected(server) as charge_point:
        old = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=100,
                                                            timestamp=timestamp(-120)))
        await charge_point.call(call.MeterValues(connector_id=1, transaction_id=old.transaction_id, meter_value=[
            {"timestamp": timestamp(-90), "sampledValue": [sample(0.4, unit="kWh")]}]))
        new = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=450,
                                                            timestamp=timestamp()))
        assert new.transaction_id != old.transaction_id
        closed = db.rows("SELECT * FROM transactions WHERE id = :id", id=old.transaction_id)[0]
        assert (closed["meter_stop"], closed["stop_reason"], closed["stopped_by"]) == (400, "Superseded", "CentralSystem")
        # Its StopTransaction, queued by the charge point, arrives late and corrects it.
        await charge_point.call(call.StopTransaction(transaction_id=old.transaction_id, meter_stop=440,
                                                     timestamp=timestamp(-10), reason="Local"))
    corrected = db.rows("SELECT * FROM transactions WHERE id = :id", id=old.transaction_id)[0]
    assert (corrected["meter_stop"], corrected["stop_reason"], corrected["stopped_by"]) == (440, "Local", "ChargePoint")
    assert db.scalar("SELECT count(*) FROM transactions WHERE charge_point_id = :id AND stop_timestamp IS NULL",
                     id=charge_point.id) == 1
