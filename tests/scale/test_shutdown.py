"""Graceful shutdown: on SIGTERM, commands in flight are answered, every WebSocket is closed with 1001
(going away) so that charge points reconnect elsewhere, and the disconnections are recorded."""
import asyncio
import signal
import struct
from contextlib import AsyncExitStack

import httpx
import pytest
import websockets

from tests.charge_points import CLOSE, BareWebSocket, connected, eventually
from tests.conftest import BACKENDS, running_server


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sigterm_answers_commands_in_flight_then_closes_with_1001(backend, tmp_path_factory):
    with running_server(backend, tmp_path_factory) as server:
        db = server.database
        async with connected(server) as busy, connected(server) as idle:
            busy.delays["Reset"] = 1.5
            async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as api:
                command = asyncio.create_task(api.post("/api/commands/reset",
                                                       json={"chargePointId": busy.id, "type": "Soft"}))
                await busy.wait_for_call("Reset")
                server.process.send_signal(signal.SIGTERM)
                response = await command
            assert response.status_code == 200 and response.json()["status"] == "Accepted"
            for charge_point in (busy, idle):
                await asyncio.wait_for(charge_point._connection.wait_closed(), 15)
                assert charge_point._connection.close_code == 1001
        assert await asyncio.to_thread(server.process.wait, 30) == 0
        for charge_point in (busy, idle):
            assert db.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id", id=charge_point.id)
        assert "shutting down" in db.rows(
            "SELECT message FROM system_logs WHERE charge_point_id = :id AND event = 'disconnected'", id=idle.id)[0]["message"]
        with pytest.raises(OSError):
            async with websockets.connect(f"{server.ws_url}/late", subprotocols=["ocpp1.6"], open_timeout=2):
                pass


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sigterm_waits_for_a_charge_point_that_never_answers_the_close(backend, tmp_path_factory):
    """gunicorn's worker exits once its HTTP requests are done, and a charge point's connection outlives
    the request that opened it: the worker waits for its connections' shutdown, which cuts off one that
    leaves the close frame unanswered (after transport.CLOSE_GRACE_SECONDS) and records its end."""
    with running_server(backend, tmp_path_factory) as server:
        async with AsyncExitStack() as stack:
            idle = [await stack.enter_async_context(connected(server)) for _ in range(5)]
            silent = await BareWebSocket.open(server)
            stack.callback(silent.close)
            await eventually(lambda: server.database.scalar(
                "SELECT count(*) FROM charge_points WHERE connected_at IS NOT NULL") == len(idle) + 1)
            server.process.send_signal(signal.SIGTERM)
            for charge_point in idle:
                await asyncio.wait_for(charge_point._connection.wait_closed(), 15)
                assert charge_point._connection.close_code == 1001
            opcode, payload = await silent.frame(timeout=15)  # not answered
            assert opcode == CLOSE and struct.unpack("!H", payload[:2])[0] == 1001
            assert await asyncio.to_thread(server.process.wait, 30) == 0
        assert server.database.scalar(
            "SELECT count(*) FROM charge_points WHERE disconnected_at IS NOT NULL") == len(idle) + 1
