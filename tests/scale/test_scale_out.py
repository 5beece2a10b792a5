"""Several processes behind one Redis: two gunicorn gevent workers, and two servers on different ports
as two "hosts". Commands reach charge points whichever process holds them; connected is true across
processes; a charge point may move; a crashed process's charge points stop counting as connected."""
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import AsyncExitStack, contextmanager

import httpx
import pytest
from redis import Redis

from benchmark import children  # bench/benchmark.py: the worker processes under gunicorn
from tests.charge_points import connected, fleet
from tests.conftest import BACKENDS, running_server
from tests.servers import ROOT, ScratchDatabase, fresh_redis_url, require_backend, server_environment, start_server

CHARGE_POINTS = 20


async def api_call(base_url: str, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on a fresh connection, so that either worker behind the port may take it."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 limits=httpx.Limits(max_keepalive_connections=0)) as client:
        return await client.request(method, path, **kwargs)


def holders(redis_url: str) -> dict[str, str]:
    """charge point id -> the process (node) that holds it, from the relay's registry."""
    entries = Redis.from_url(redis_url).hgetall("ocpp:connections")
    return {key.decode(): value.decode().split(" ")[0] for key, value in entries.items()}


@pytest.fixture(scope="module", params=BACKENDS)
def two_workers(request, tmp_path_factory):
    with running_server(request.param, tmp_path_factory, REDIS_URL=fresh_redis_url(), WEB_CONCURRENCY=2,
                        OCPP_COMMAND_TIMEOUT=5) as server:
        wait_for_nodes(server.environment["REDIS_URL"], 2)
        yield server


def wait_for_nodes(redis_url: str, count: int, timeout: float = 60.0) -> None:
    """The server answers once one worker is up; the other may still be importing the application, and
    until it is, every connection goes to the first. Each worker's relay registers its node key in Redis."""
    deadline = time.monotonic() + timeout
    while len(Redis.from_url(redis_url).keys("ocpp:node:*")) < count:
        assert time.monotonic() < deadline, f"fewer than {count} workers registered within {timeout:g} s"
        time.sleep(0.1)


@contextmanager
def two_hosts(backend, tmp_path_factory, **settings):
    """Two servers (two "hosts") on different ports, one database, one Redis."""
    require_backend(backend)
    directory = tmp_path_factory.mktemp(f"hosts-{backend}")
    database = ScratchDatabase(backend, directory)
    settings = {"REDIS_URL": fresh_redis_url(), "OCPP_COMMAND_TIMEOUT": 5, "BACKGROUND_JOBS": "false", **settings}
    hosts = []
    try:
        for _ in range(2):
            hosts.append(start_server(database, directory, **settings))
        yield hosts
    finally:
        for host in hosts:
            host.stop()
        database.drop()


async def test_two_workers_answer_every_command_whichever_takes_the_request(two_workers):
    server, redis_url = two_workers, two_workers.environment["REDIS_URL"]
    async with AsyncExitStack() as stack:
        charge_points = []
        # Which worker accepts a connection is the kernel's choice: connect in bursts until both hold some.
        while len(set(holders(redis_url).values())) < 2:
            assert len(charge_points) < 200, "the connections never spread over both workers"
            charge_points += await asyncio.gather(*(stack.enter_async_context(connected(server))
                                                    for _ in range(CHARGE_POINTS)))
        for charge_point in charge_points:
            response = await api_call(server.api_url, "POST", "/api/commands/reset",
                                      json={"chargePointId": charge_point.id, "type": "Hard"})
            assert response.status_code == 200 and response.json()["status"] == "Accepted", response.text
            assert charge_point.received[-1] == ("Reset", {"type": "Hard"})
        status = (await api_call(server.api_url, "GET", "/api/status")).json()
        assert status["chargePointsConnected"] == len(charge_points)
        listed = (await api_call(server.api_url, "GET", "/api/charge-points")).json()
        assert sum(1 for item in listed if item["isConnected"]) == len(charge_points)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_two_hosts_share_charge_points_moves_and_crashes(backend, tmp_path_factory):
    with two_hosts(backend, tmp_path_factory, CONNECTION_REGISTRY_TTL=2) as (host_a, host_b):
        async with fleet(host_a.ws_url, CHARGE_POINTS // 2) as on_a, fleet(host_b.ws_url, CHARGE_POINTS // 2) as on_b:
            for charge_point in on_a + on_b:
                host = random.choice((host_a, host_b))
                response = await api_call(host.api_url, "POST", "/api/commands/get-configuration",
                                          json={"chargePointId": charge_point.id})
                assert response.status_code == 200, response.text
                assert response.json()["configurationKey"][0]["key"] == "HeartbeatInterval"
            # A charge point moves from host A to host B: its old connection is closed.
            moving = on_a[0]
            async with connected(host_b, moving.id) as moved:
                await asyncio.wait_for(moving._connection.wait_closed(), 5)
                response = await api_call(host_a.api_url, "POST", "/api/commands/clear-cache",
                                          json={"chargePointId": moving.id})
                assert response.status_code == 200 and moved.received == [("ClearCache", {})]
                assert moving.received == [("GetConfiguration", {})]
            # Host A crashes: its charge points stop counting as connected within the registry's expiry.
            _kill_hard(host_a)
            crashed_at = time.monotonic()

            async def a_charge_points_connected() -> int:
                listed = (await api_call(host_b.api_url, "GET", "/api/charge-points")).json()
                return sum(1 for item in listed if item["id"] in {cp.id for cp in on_a[1:]} and item["isConnected"])

            while await a_charge_points_connected():
                assert time.monotonic() - crashed_at < 30, "still connected long after the expiry"
                await asyncio.sleep(0.25)
            refused = await api_call(host_b.api_url, "POST", "/api/commands/clear-cache",
                                     json={"chargePointId": on_a[1].id})
            assert refused.status_code == 409
            still = await api_call(host_b.api_url, "POST", "/api/commands/clear-cache", json={"chargePointId": on_b[0].id})
            assert still.status_code == 200


def _kill_hard(host) -> None:
    """SIGKILL the master and its workers: a crash, not a shutdown."""
    pids = [host.process.pid, *children(host.process.pid)]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    host.process.wait()


def test_several_workers_without_redis_refuse_to_start(tmp_path):
    environment = server_environment(f"sqlite:///{tmp_path / 'x.db'}", WEB_CONCURRENCY=2, OCPP_WEBSOCKET_PORT=1,
                                     OCPP_API_PORT=2)
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "configuration error: WEB_CONCURRENCY=2 needs REDIS_URL: without Redis, one worker process serves all "
        "charge points"]
