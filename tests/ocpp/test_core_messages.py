"""BootNotification, Heartbeat, StatusNotification, Authorize, DataTransfer and the firmware/diagnostics
notifications, from a simulated charge point to the database."""
from datetime import datetime, timedelta, timezone

from ocpp.v16 import call

from tests.charge_points import connected, new_id, timestamp


def add_id_tag(db, id_tag, status="Accepted", expiry_date=None, parent_id_tag=None):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    db.execute("INSERT INTO id_tags (id_tag, status, expiry_date, parent_id_tag, created_at, updated_at) "
               "VALUES (:id_tag, :status, :expiry_date, :parent_id_tag, :now, :now)",
               id_tag=id_tag, status=status, expiry_date=expiry_date, parent_id_tag=parent_id_tag, now=now)


async def test_boot_notification_registers_the_charge_point(server, db):
    async with connected(server) as charge_point:
        reply = await charge_point.call(call.BootNotification(
            charge_point_vendor="Alfen", charge_point_model="Eve Double", charge_point_serial_number="S-1",
            charge_box_serial_number="B-1", firmware_version="4.2.1", iccid="8931", imsi="2040",
            meter_type="ABB", meter_serial_number="M-9"))
    assert reply.status == "Accepted" and reply.interval == 60
    sent_at = datetime.fromisoformat(reply.current_time)
    assert abs(sent_at - datetime.now(timezone.utc)) < timedelta(seconds=5)
    row = db.rows("SELECT * FROM charge_points WHERE id = :id", id=charge_point.id)[0]
    assert (row["vendor"], row["model"], row["serial_number"], row["charge_box_serial_number"],
            row["firmware_version"], row["iccid"], row["imsi"], row["meter_type"], row["meter_serial_number"]) \
        == ("Alfen", "Eve Double", "S-1", "B-1", "4.2.1", "8931", "2040", "ABB", "M-9")
    assert row["registration_status"] == "Accepted" and row["heartbeat_interval"] == 60
    assert row["last_boot_notification"] is not None


async def test_a_second_boot_updates_what_changed(server, db):
    async with connected(server) as charge_point:
        await charge_point.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M",
                                                      firmware_version="1.0"))
        await charge_point.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M",
                                                      firmware_version="2.0"))
    assert db.scalar("SELECT firmware_version FROM charge_points WHERE id = :id", id=charge_point.id) == "2.0"
    assert db.scalar("SELECT count(*) FROM system_logs WHERE charge_point_id = :id AND event = 'boot'",
                     id=charge_point.id) == 2


async def test_heartbeat_answers_the_time_and_is_recorded(server, db):
    async with connected(server) as charge_point:
        reply = await charge_point.call(call.Heartbeat())
    assert reply.current_time.endswith("Z")
    assert db.scalar("SELECT last_heartbeat FROM charge_points WHERE id = :id", id=charge_point.id) is not None


async def test_status_of_several_connectors_and_its_history(server, db):
    async with connected(server) as charge_point:
        for connector_id, status in ((0, "Available"), (1, "Preparing"), (2, "Faulted"), (1, "Charging")):
            await charge_point.call(call.StatusNotification(
                connector_id=connector_id, status=status,
                error_code="GroundFailure" if status == "Faulted" else "NoError",
                info="earth leak" if status == "Faulted" else None, vendor_id="ACME" if connector_id == 2 else None,
                vendor_error_code="E42" if connector_id == 2 else None, timestamp=timestamp()))
    connectors = {row["connector_id"]: row for row in db.rows(
        "SELECT * FROM connectors WHERE charge_point_id = :id", id=charge_point.id)}
    assert {cid: row["status"] for cid, row in connectors.items()} == {0: "Available", 1: "Charging", 2: "Faulted"}
    faulted = connectors[2]
    assert (faulted["error_code"], faulted["info"], faulted["vendor_id"], faulted["vendor_error_code"]) == \
        ("GroundFailure", "earth leak", "ACME", "E42")
    history = db.rows("SELECT connector_id, status FROM connector_status_changes WHERE charge_point_id = :id "
                      "ORDER BY id", id=charge_point.id)
    assert [(row["connector_id"], row["status"]) for row in history] == \
        [(0, "Available"), (1, "Preparing"), (2, "Faulted"), (1, "Charging")]


async def test_a_late_status_does_not_overwrite_a_newer_one(server, db):
    earlier = timestamp(-60)
    async with connected(server) as charge_point:
        await charge_point.call(call.StatusNotification(connector_id=1, status="Charging", error_code="NoError",
                                                        timestamp=timestamp()))
        await charge_point.call(call.StatusNotification(connector_id=1, status="Preparing", error_code="NoError",
                                                        timestamp=earlier))
        # A retry of a report already received adds nothing to the history.
        await charge_point.call(call.StatusNotification(connector_id=1, status="Preparing", error_code="NoError",
                                                        timestamp=earlier))
    assert db.scalar("SELECT status FROM connectors WHERE charge_point_id = :id", id=charge_point.id) == "Charging"
    assert db.scalar("SELECT count(*) FROM connector_status_changes WHERE charge_point_id = :id",
                     id=charge_point.id) == 2


async def test_timestamps_with_offsets_are_stored_in_utc(server, db):
    async with connected(server) as charge_point:
        await charge_point.call(call.StatusNotification(connector_id=1, status="Available", error_code="NoError",
                                                        timestamp="2024-03-01T12:00:00+02:00"))
    stored = db.scalar("SELECT status_timestamp FROM connectors WHERE charge_point_id = :id", id=charge_point.id)
    if isinstance(stored, str):  # SQLite hands back text
        stored = datetime.fromisoformat(stored)
    assert stored.replace(tzinfo=None) == datetime(2024, 3, 1, 10, 0, 0)


async def test_authorize_known_unknown_blocked_expired_and_in_use(server, db):
    prefix = new_id("T")[-8:]
    past = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=1)
    future = datetime(2099, 1, 1)
    add_id_tag(db, f"{prefix}-ok", expiry_date=future, parent_id_tag=f"{prefix}-group")
    add_id_tag(db, f"{prefix}-blk", status="Blocked")
    add_id_tag(db, f"{prefix}-exp", expiry_date=past)
    add_id_tag(db, f"{prefix}-busy")
    async with connected(server) as charge_point:
        async def info(id_tag):
            return (await charge_point.call(call.Authorize(id_tag=id_tag))).id_tag_info

        accepted = await info(f"{prefix}-ok")
        assert accepted == {"status": "Accepted", "expiry_date": "2099-01-01T00:00:00.000Z",
                            "parent_id_tag": f"{prefix}-group"}
        assert (await info(f"{prefix}-none"))["status"] == "Invalid"
        assert (await info(f"{prefix}-blk"))["status"] == "Blocked"
        assert (await info(f"{prefix}-exp"))["status"] == "Expired"
        assert (await info(f"{prefix}-busy"))["status"] == "Accepted"
        await charge_point.call(call.StartTransaction(connector_id=1, id_tag=f"{prefix}-busy", meter_start=0,
                                                      timestamp=timestamp()))
        # ConcurrentTx is "only relevant for a StartTransaction.req" (OCPP 1.6, 7.2): Authorize says Accepted
        assert (await info(f"{prefix}-busy"))["status"] == "Accepted"
        second_start = await charge_point.call(call.StartTransaction(connector_id=2, id_tag=f"{prefix}-busy",
                                                                     meter_start=0, timestamp=timestamp()))
        assert second_start.id_tag_info["status"] == "ConcurrentTx"


async def test_a_card_of_the_same_group_stops_a_session_through_authorize(server, db):
    """The driver's other card (same parentIdTag) is presented to stop: the charge point asks Authorize,
    gets Accepted with the group, and stops the transaction with that card."""
    prefix = new_id("G")[-8:]
    add_id_tag(db, f"{prefix}-a", parent_id_tag=f"{prefix}-fleet")
    add_id_tag(db, f"{prefix}-b", parent_id_tag=f"{prefix}-fleet")
    async with connected(server) as charge_point:
        transaction_id = await charge_point.start_transaction(1, f"{prefix}-a")
        for card in (f"{prefix}-a", f"{prefix}-b"):
            authorized = (await charge_point.call(call.Authorize(id_tag=card))).id_tag_info
            assert authorized == {"status": "Accepted", "parent_id_tag": f"{prefix}-fleet"}
        stopped = await charge_point.call(call.StopTransaction(transaction_id=transaction_id, meter_stop=2500,
                                                               timestamp=timestamp(), id_tag=f"{prefix}-b"))
    assert stopped.id_tag_info["status"] == "Accepted"
    row = db.rows("SELECT stop_id_tag, meter_stop FROM transactions WHERE id = :id", id=transaction_id)[0]
    assert (row["stop_id_tag"], row["meter_stop"]) == (f"{prefix}-b", 2500)


async def test_data_transfer_is_stored_and_answered(server, db):
    async with connected(server) as charge_point:
        reply = await charge_point.call(call.DataTransfer(vendor_id="com.example", message_id="hello",
                                                          data='{"a": 1}'))
    assert reply.status == "UnknownVendorId"
    row = db.rows("SELECT * FROM data_transfer_messages WHERE charge_point_id = :id", id=charge_point.id)[0]
    assert (row["vendor_id"], row["message_id"], row["data"], row["status"]) == \
        ("com.example", "hello", '{"a": 1}', "UnknownVendorId")


async def test_firmware_and_diagnostics_status_are_kept_with_history(server, db):
    async with connected(server) as charge_point:
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await charge_point.call(call.FirmwareStatusNotification(status=status))
        await charge_point.call(call.DiagnosticsStatusNotification(status="Uploaded"))
    row = db.rows("SELECT firmware_status, diagnostics_status FROM charge_points WHERE id = :id",
                  id=charge_point.id)[0]
    assert (row["firmware_status"], row["diagnostics_status"]) == ("Installed", "Uploaded")
    history = db.rows("SELECT kind, status FROM file_transfer_status_changes WHERE charge_point_id = :id "
                      "ORDER BY id", id=charge_point.id)
    assert [(r["kind"], r["status"]) for r in history] == [
        ("firmware", "Downloading"), ("firmware", "Downloaded"), ("firmware", "Installing"),
        ("firmware", "Installed"), ("diagnostics", "Uploaded")]
