"""The fleet simulator: what it sends follows the OCPP 1.6 schemas, and a small fleet runs against a
real server (boots, transactions with meter values, commands answered)."""
import asyncio
import json

import httpx
from jsonschema import Draft4Validator

from app.spec.schemas import SCHEMA_DIR
from tests.charge_points import new_id

import fleet  # bench/fleet.py: bench/ is on pytest's pythonpath, being scripts rather than a package


def validator(name: str) -> Draft4Validator:
    return Draft4Validator(json.loads((SCHEMA_DIR / f"{name}.json").read_text()))


async def test_every_frame_it_sends_or_answers_follows_the_schemas():
    charge_point, sent = fleet.ChargePoint("CP-SCHEMA", fleet.Stats()), []

    async def record(action, payload):
        sent.append((action, payload))
        return {"status": "Accepted", "interval": 60, "transactionId": 7}
    charge_point.call = record
    await charge_point.boot()
    await charge_point.start_transaction()
    for n in range(5):
        await charge_point.load_message(n)
    await charge_point.stop_transaction()
    assert {action for action, _ in sent} == {"BootNotification", "StatusNotification", "Authorize", "StartTransaction",
                                              "MeterValues", "Heartbeat", "StopTransaction"}
    for action, payload in sent:
        validator(action).validate(payload)
    for action, payload in (("Reset", {"type": "Soft"}), ("GetConfiguration", {}), ("UnlockConnector", {"connectorId": 1}),
                            ("TriggerMessage", {"requestedMessage": "Heartbeat"}), ("RemoteStopTransaction",
                                                                                    {"transactionId": 1})):
        reply, follow_up = charge_point._reply(action, payload)
        if follow_up is not None:
            follow_up.close()
        validator(f"{action}Response").validate(reply("u1")[2])


async def test_a_small_fleet_against_a_real_server(server):
    prefix = new_id("FLT")
    plan = fleet.Plan(url=server.ws_url, charge_points=5, duration=3, prefix=prefix, heartbeat_interval=1,
                      transactions=True, meter_interval=0.5)

    async def command_one_of_them():
        async with httpx.AsyncClient(base_url=server.api_url) as api:
            # As soon as it is connected (the fleet runs for `duration` seconds from then on).
            while not (await api.get(f"/api/charge-points/{prefix}-2")).json().get("isConnected"):
                await asyncio.sleep(0.1)
            return await api.post("/api/commands/reset", json={"chargePointId": f"{prefix}-2", "type": "Soft"})

    summary, reset = await asyncio.gather(fleet.run(plan), command_one_of_them())
    assert reset.status_code == 200 and reset.json()["status"] == "Accepted"
    assert summary["connected"] == 5 and summary["connect_failures"] == 0
    assert summary["timeouts"] == 0 and summary["call_errors"] == 0 and summary["commands_answered"] == 1
    assert summary["answered"] >= 5 * 6 and 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    db = server.database
    assert db.scalar("SELECT count(*) FROM charge_points WHERE id LIKE :prefix AND vendor = 'Fleet'",
                     prefix=f"{prefix}-%") == 5
    assert db.scalar("SELECT count(*) FROM transactions WHERE charge_point_id LIKE :prefix AND stop_timestamp IS NOT NULL",
                     prefix=f"{prefix}-%") == 5
    assert db.scalar("SELECT count(*) FROM meter_values m JOIN transactions t ON t.id = m.transaction_id "
                     "WHERE t.charge_point_id LIKE :prefix", prefix=f"{prefix}-%") >= 5 * 4 * 3


async def test_an_idle_fleet_counts_booted_charge_points_and_boots_again_after_a_reconnection(server, tmp_path):
    prefix = new_id("IDL")
    status_file = tmp_path / "status.json"
    plan = fleet.Plan(url=server.ws_url, charge_points=4, duration=4, prefix=prefix, heartbeat_interval=1,
                      reconnect=True, status_file=str(status_file))

    async def close_one_of_them():
        await asyncio.sleep(2)
        async with httpx.AsyncClient(base_url=server.api_url) as api:
            # Deleting the charge point closes its connection from the server side; it comes back.
            return await api.delete(f"/api/charge-points/{prefix}-1")

    summary, closed = await asyncio.gather(fleet.run_idle(plan), close_one_of_them())
    assert closed.status_code in (200, 204), closed.text
    assert summary["booted"] == 4 and summary["boots"] == 5 and summary["min_boot_count"] == 1
    assert summary["heartbeats"] > 0 and summary["timeouts"] == 0 and summary["call_errors"] == 0
    assert json.loads(status_file.read_text())["boots"] == 5


def test_a_server_log_with_a_blocked_hub_or_a_worker_restart_fails_the_benchmark(tmp_path):
    import subprocess
    import benchmark
    log = tmp_path / "server.log"
    process = subprocess.Popen(["sleep", "30"])
    try:
        target = benchmark.Target("ours", "ws://127.0.0.1:1", process, process.pid, log_path=log)
        log.write_text("INFO all well\n")
        assert target.problems() == [f"the worker {process.pid} was replaced (a worker restart)"]
        target.measured_pid = -1
        log.write_text("Tue Nov 26 : Greenlet <Greenlet at 0x1> appears to be blocked\n[CRITICAL] WORKER TIMEOUT (pid:7)\n")
        problems = target.problems()
        assert any("monitor thread reported the hub blocked 1 times" in problem for problem in problems)
        assert any("WORKER TIMEOUT" in problem for problem in problems)
    finally:
        process.kill()
