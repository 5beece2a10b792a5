"""Admission control: past its backlog threshold the server sheds new load as OCPP intends (503 with
Retry-After at the handshake, Pending at BootNotification), never a charge point with a running
transaction, and takes them on the retry once there is room. The threshold is set low and the backlog
made by charge points sending Heartbeats as fast as they are answered."""
import asyncio
import itertools
import json
import random
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import websockets
from ocpp.v16 import call

from tests.charge_points import connected, new_id
from tests.conftest import BACKENDS, running_server

THRESHOLD, RETRY = 2, 1
ATTEMPTS = 300  # bounded: each attempt is a moment of load, and the load keeps the backlog past 2


@pytest.fixture(scope="module", params=BACKENDS)
def busy_server(request, tmp_path_factory):
    with running_server(request.param, tmp_path_factory, OCPP_ADMISSION_BACKLOG=THRESHOLD,
                        OCPP_ADMISSION_RETRY=RETRY, OCPP_ADMISSION_WAIT=0,
                        OCPP_RATE_LIMIT=100000) as server:
        yield server


@asynccontextmanager
async def overload(server, count: int = 40):
    """Booted charge points sending Heartbeats back to back for the block (plain frames on plain
    WebSockets: the load must stop the moment the block ends)."""
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(websockets.connect(
            f"{server.ws_url}/{new_id('LOAD')}", subprotocols=["ocpp1.6"], close_timeout=1)) for _ in range(count)]
        for socket in sockets:
            await socket.send(json.dumps([2, "boot", "BootNotification", {"chargePointVendor": "V",
                                                                           "chargePointModel": "M"}]))
            assert json.loads(await socket.recv())[2]["status"] == "Accepted"

        async def beat(socket):
            for n in itertools.count():
                await socket.send(json.dumps([2, str(n), "Heartbeat", {}]))
                await socket.recv()

        tasks = [asyncio.create_task(beat(socket)) for socket in sockets]
        await asyncio.sleep(0.5)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def boot(vendor: str = "V"):
    return call.BootNotification(charge_point_vendor=vendor, charge_point_model="M")


async def test_a_new_connection_gets_503_with_jittered_retry_after_then_is_accepted_on_the_retry(busy_server):
    charge_point_id = new_id("SHED")
    refusal = None
    async with overload(busy_server):
        for _ in range(ATTEMPTS):
            try:
                async with connected(busy_server, charge_point_id, open_timeout=10, close_timeout=2):
                    pass
            except websockets.InvalidStatus as refused:
                refusal = refused.response
                break
    assert refusal is not None and refusal.status_code == 503
    assert RETRY <= int(refusal.headers["Retry-After"]) <= 2 * RETRY
    # (in the API's error shape)
    assert json.loads(refusal.body) == {"error": "service_unavailable", "details": {},
                                        "message": "the central system is busy; try again later"}
    assert refusal.headers["Content-Type"] == "application/json" and refusal.headers["X-Request-ID"]
    await asyncio.sleep(int(refusal.headers["Retry-After"]))
    async with connected(busy_server, charge_point_id) as charge_point:
        assert (await charge_point.call(boot())).status == "Accepted"


async def test_a_boot_under_overload_is_pending_and_stores_nothing_then_accepted_on_the_retry(busy_server):
    db = busy_server.database
    async with connected(busy_server) as charge_point:
        answer = None
        async with overload(busy_server):
            for attempt in range(ATTEMPTS):
                # A moment apart at random: a boot sent the instant its answer came would arrive with the
                # Heartbeats answered in the same commit, and could be handled before any of them, each
                # time, with nothing waiting for a commit yet.
                await asyncio.sleep(random.uniform(0, 0.005))
                answer = await charge_point.call(boot(f"V{attempt}"))
                if answer.status == "Pending":
                    break
        assert answer.status == "Pending" and RETRY <= answer.interval <= 2 * RETRY
        # (earlier attempts may have been Accepted and stored theirs)
        assert db.scalar("SELECT vendor FROM charge_points WHERE id = :id", id=charge_point.id) != f"V{attempt}"
        await asyncio.sleep(answer.interval)
        accepted = await charge_point.call(boot())
        assert accepted.status == "Accepted" and accepted.interval == 60
    assert db.scalar("SELECT vendor FROM charge_points WHERE id = :id", id=charge_point.id) == "V"


async def test_a_charge_point_with_a_running_transaction_is_never_kept_out(busy_server):
    charge_point_id = new_id("CHARGING")
    async with connected(busy_server, charge_point_id) as charge_point:
        await charge_point.call(boot())
        await charge_point.start_transaction()
    async with overload(busy_server):
        for _ in range(10):
            async with connected(busy_server, charge_point_id) as charge_point:
                assert (await charge_point.call(boot())).status == "Accepted"


async def test_under_overload_a_handshake_that_other_rules_refuse_gets_their_answer(busy_server):
    """The overload refuses only what the other rules let through: an id that cannot name a charge point
    still gets 400, and the charge points' path on the API's port 404."""
    overloaded_rounds = 0
    async with overload(busy_server):
        for _ in range(ATTEMPTS):
            for url, status in ((f"{busy_server.ws_url}/{'X' * 49}", 400),
                                (f"{busy_server.api_url.replace('http', 'ws')}/{new_id('API')}", 404)):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(url, subprotocols=["ocpp1.6"], open_timeout=10):
                        pass
                assert refused.value.response.status_code == status
            try:
                async with connected(busy_server, new_id("SHED"), open_timeout=10, close_timeout=2):
                    pass
            except websockets.InvalidStatus as refused:
                assert refused.response.status_code == 503
                overloaded_rounds += 1
                if overloaded_rounds == 5:
                    break
    assert overloaded_rounds == 5
