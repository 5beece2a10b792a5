"""Redis of the test's own killed and started again empty under a running server (one and two worker
processes). Meanwhile: connected charge points stay connected and their messages are answered; a
command that needs Redis and /api/status say that the message bus is unavailable (503, and what is not
known); a new connection is closed with 1013 (try again later) without locking its charge point out.
Afterwards each process registers again the charge points it holds, so that every command reaches its
charge point and every connected charge point counts as connected, without a reconnect."""
import asyncio

import httpx
import pytest
import websockets

from tests.charge_points import connected, eventually, new_id
from tests.conftest import BACKENDS
from tests.resilience.outages import LedgerChargePoint, OwnRedis
from tests.servers import ScratchDatabase, require_backend, start_server


async def api_call(server, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on a fresh connection, so that either worker may take it."""
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30,
                                 limits=httpx.Limits(max_keepalive_connections=0)) as client:
        return await client.request(method, path, **kwargs)


async def reset(server, charge_point_id: str) -> httpx.Response:
    return await api_call(server, "POST", "/api/commands/reset", json={"chargePointId": charge_point_id, "type": "Soft"})


def holders(redis) -> set[str]:
    return {value.decode().split(" ")[0] for value in redis.client().hgetall("ocpp:connections").values()}


@pytest.fixture
def own_redis():
    redis = OwnRedis()
    yield redis
    redis.remove()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_redis_killed_and_restarted_empty(backend, workers, own_redis, tmp_path):
    require_backend(backend)
    database = ScratchDatabase(backend, tmp_path)
    server = start_server(database, tmp_path, REDIS_URL=own_redis.url, WEB_CONCURRENCY=workers,
                          CONNECTION_REGISTRY_TTL=3, OCPP_COMMAND_TIMEOUT=5, BACKGROUND_JOBS="false")
    stop = asyncio.Event()
    charge_points, sending = [], []
    try:
        # Which worker accepts a connection is the kernel's choice: connect until each holds some.
        while len(charge_points) < 6 or len(holders(own_redis)) < workers:
            assert len(charge_points) < 60, "the connections never spread over the workers"
            charge_points.append(LedgerChargePoint(server.ws_url, interval=0.1))
            sending.append(asyncio.create_task(charge_points[-1].run(stop)))
            await eventually(lambda: charge_points[-1].acknowledged, 10)
        async with connected(server) as idle:
            pass
        known_not_connected = idle.id  # in the database, connected nowhere

        own_redis.kill()
        await during_the_outage(server, charge_points, known_not_connected)
        newcomer = new_id()
        async with websockets.connect(f"{server.ws_url}/{newcomer}", subprotocols=["ocpp1.6"]) as refused:
            await asyncio.wait_for(refused.wait_closed(), 10)
            assert refused.close_code == 1013  # try again later

        marks = [len(cp.acknowledged) for cp in charge_points]
        await asyncio.to_thread(own_redis.start)  # empty
        await after_the_outage(server, own_redis, charge_points)
        async with connected(server, newcomer) as returned:  # not locked out by the failed registration
            assert (await reset(server, returned.id)).status_code == 200
            assert returned.received == [("Reset", {"type": "Soft"})]
        stop.set()
        await asyncio.gather(*sending)
        for charge_point, mark in zip(charge_points, marks):
            assert charge_point.connections == 1 and charge_point.closes == [], "a charge point was disconnected"
            assert len(charge_point.acknowledged) > mark
            charge_point.assert_ledger_matches(database)
        log = server.log()
        assert "Exception on" not in log and "Traceback" not in log, log[log.find("Traceback") - 500:][:5000]
        assert "registered again" in log
    finally:
        stop.set()
        await asyncio.gather(*sending)
        server.stop()
        database.drop()


async def during_the_outage(server, charge_points, known_not_connected: str) -> None:
    marks = [len(cp.acknowledged) for cp in charge_points]
    # Charge points go on sending and get their answers: the database is there.
    await eventually(lambda: all(len(cp.acknowledged) >= mark + 3 for cp, mark in zip(charge_points, marks)), 15)
    # A command answers at once where the charge point is held by the process that took the request,
    # else 503 saying that the message bus is unavailable: never a 500.
    for charge_point in charge_points[:4] + [None]:
        response = await reset(server, charge_point.charge_point_id if charge_point else known_not_connected)
        assert response.status_code in (200, 503), response.text
        if response.status_code == 503:
            assert response.json()["error"] == "service_unavailable" and "message bus" in response.json()["message"]
            assert int(response.headers["Retry-After"]) > 0
        else:
            assert charge_point is not None
    status = await api_call(server, "GET", "/api/status")
    assert status.status_code == 200, status.text
    assert status.json()["chargePointsConnected"] is None and status.json()["messageBus"] == {"type": "redis",
                                                                                              "connected": False}
    assert status.json()["database"]["connected"] is True and status.json()["chargePointsTotal"] >= len(charge_points)
    ready = await api_call(server, "GET", "/readyz")
    assert ready.status_code == 503 and ready.json()["redis"] is False and ready.json()["database"] is True


async def after_the_outage(server, redis, charge_points) -> None:
    ids = {cp.charge_point_id for cp in charge_points}

    async def registry_rebuilt() -> bool:
        # The registry itself, and both views of it, each asked of either worker: the count in
        # /api/status and isConnected of each.
        if {key.decode() for key in redis.client().hkeys("ocpp:connections")} != ids:
            return False
        status = (await api_call(server, "GET", "/api/status")).json()
        listed = (await api_call(server, "GET", "/api/charge-points")).json()
        return status["chargePointsConnected"] == len(ids) and \
            {item["id"] for item in listed if item["isConnected"]} == ids
    for _ in range(100):  # each process registers again within a refresh of its node key (1 s here)
        if await registry_rebuilt() and await registry_rebuilt():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the registry was not rebuilt within 10 s")
    for charge_point in charge_points:
        response = await reset(server, charge_point.charge_point_id)
        assert response.status_code == 200, response.text
    assert (await api_call(server, "GET", "/readyz")).status_code == 200
