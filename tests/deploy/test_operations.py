"""/healthz, /readyz, /metrics counting real traffic (one worker and several), JSON logs and request ids."""
import asyncio
import json

import httpx
import pytest
from ocpp.v16 import call
from prometheus_client.parser import text_string_to_metric_families

from tests.charge_points import connected, eventually, fleet, raw_connection
from tests.conftest import running_server
from tests.servers import fresh_redis_url


def metric(text: str, name: str, **labels) -> float:
    """The value of one sample of the Prometheus text `text`, 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return 0.0


async def test_healthz_and_readyz_on_both_ports(server):
    for base in (server.api_url, server.ws_url.replace("ws://", "http://")):
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": True}


async def test_readyz_says_not_ready_when_the_database_is_gone(tmp_path_factory):
    with running_server("postgres", tmp_path_factory, REDIS_URL=fresh_redis_url()) as server:
        async with httpx.AsyncClient(base_url=server.api_url) as client:
            assert (await client.get("/readyz")).json() == {"status": "ready", "database": True, "redis": True}
            server.database.drop()  # the database disappears under the running server
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503 and not_ready.json()["database"] is False
            assert (await client.get("/healthz")).status_code == 200  # the process itself is alive


async def test_metrics_count_real_traffic(server):
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        before = (await client.get("/metrics")).text
        async with connected(server) as charge_point, raw_connection(server) as sloppy:
            connected_now = (await client.get("/metrics")).text
            await charge_point.call(call.Heartbeat())
            await charge_point.call(call.Heartbeat())
            await sloppy.exchange([2, "x", "StatusNotification", {"connectorId": "one", "errorCode": "NoError",
                                                                  "status": "Available"}])
            await sloppy.exchange([2, "y", "InventedAction", {}])
            await client.post("/api/commands/reset", json={"chargePointId": charge_point.id, "type": "Soft"})
            await client.get("/api/charge-points/nobody-here")
        after = (await client.get("/metrics")).text
    assert metric(connected_now, "ocpp_connected_charge_points") - metric(before, "ocpp_connected_charge_points") == 2
    growth = lambda name, **labels: metric(after, name, **labels) - metric(before, name, **labels)  # noqa: E731
    assert growth("ocpp_messages_total", action="Heartbeat", result="CALLRESULT") == 2
    assert growth("ocpp_messages_total", action="StatusNotification", result="CALLERROR") == 1
    assert growth("ocpp_messages_total", action="other", result="CALLERROR") == 1
    assert growth("ocpp_callerrors_total", code="TypeConstraintViolation") == 1
    assert growth("ocpp_callerrors_total", code="NotImplemented") == 1
    assert growth("ocpp_command_duration_seconds_count", action="Reset", outcome="answered") == 1
    assert growth("ocpp_api_requests_total", method="POST", route="/api/commands/reset", status="200") == 1
    assert growth("ocpp_api_requests_total", method="GET", route="/api/charge-points/<charge_point_id>",
                  status="404") == 1
    # The collector's policy is in force: what start-up made is frozen (app/collector.py)
    assert metric(after, "ocpp_gc_frozen_objects") > 10_000


async def test_metrics_add_up_several_workers(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, REDIS_URL=fresh_redis_url(), WEB_CONCURRENCY=2) as server:
        async with fleet(server, 12) as charge_points:
            for charge_point in charge_points:
                await charge_point.call(call.Heartbeat())
            for _ in range(6):  # whichever worker answers, the figures are the sum of both
                async with httpx.AsyncClient(base_url=server.api_url, limits=httpx.Limits(max_keepalive_connections=0)) \
                        as client:
                    text = (await client.get("/metrics")).text
                assert metric(text, "ocpp_connected_charge_points") == 12
                assert metric(text, "ocpp_messages_total", action="Heartbeat", result="CALLRESULT") == 12


@pytest.fixture(scope="module")
def json_logging_server(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, LOG_FORMAT="json") as server:
        yield server


async def test_json_logs_with_request_ids(json_logging_server):
    server = json_logging_server
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        chosen = await client.get("/api/charge-points/nobody", headers={"X-Request-ID": "trace-1234"})
        assert chosen.headers["X-Request-ID"] == "trace-1234"
        made = await client.get("/api/status", headers={"X-Request-ID": "bad id with spaces"})
        assert made.headers["X-Request-ID"] != "bad id with spaces" and len(made.headers["X-Request-ID"]) == 16
    async with connected(server) as charge_point:
        await charge_point.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
    await eventually(lambda: "BootNotification from V M" in server.log())
    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(record) for record in records)
    boot = next(record for record in records if "BootNotification from V M" in record["message"])
    assert boot["level"] == "INFO" and boot["request_id"] not in (None, "-")
    assert any(record["logger"] == "gunicorn.error" for record in records)
