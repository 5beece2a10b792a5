"""Limits against misbehaving charge points and clients, and ids and filters that try SQL or path tricks."""
import asyncio
import json
import socket
import time

import httpx
import pytest
import websockets
from ocpp.v16 import call

from tests.charge_points import connected, new_id, raw_connection
from tests.conftest import running_server


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, OCPP_MAX_MESSAGE_SIZE=4096, OCPP_RATE_LIMIT=2,
                        OCPP_MAX_CONNECTIONS=4, OCPP_HANDSHAKE_TIMEOUT=1, API_MAX_BODY=2048) as server:
        yield server


async def test_an_oversized_frame_closes_only_that_connection(limited):
    async with connected(limited) as bystander, raw_connection(limited) as offender:
        await offender.send([2, "big", "DataTransfer", {"vendorId": "x", "data": "A" * 5000}])
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(offender.connection.recv(), 5)
        assert closed.value.rcvd.code == 1009
        assert (await bystander.call(call.Heartbeat())).current_time


async def test_a_flood_of_calls_gets_callerrors_then_the_connection_closes(limited):
    async with connected(limited) as bystander, raw_connection(limited) as flooder:
        for n in range(40):  # without waiting for answers: 2 a second allowed, bursts of 10
            await flooder.send([2, f"f{n}", "Heartbeat", {}])
        answers, close_code = [], None
        try:
            while True:
                answers.append(json.loads(await asyncio.wait_for(flooder.connection.recv(), 5)))
        except websockets.ConnectionClosed as closed:
            close_code = closed.rcvd.code
        assert 9 <= sum(1 for answer in answers if answer[0] == 3) <= 12
        refused = [answer for answer in answers if answer[0] == 4]
        assert refused and all(answer[2] == "GenericError" and "Rate limit" in answer[3] for answer in refused)
        assert close_code == 1008
        assert (await bystander.call(call.Heartbeat())).current_time


async def test_connections_beyond_the_cap_are_refused(limited):
    async with connected(limited), connected(limited), connected(limited), connected(limited):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connected(limited):
                pass
        assert refused.value.response.status_code == 503
    async with connected(limited) as after:
        assert (await after.call(call.Heartbeat())).current_time


def test_a_client_that_never_finishes_its_handshake_is_dropped(limited):
    with socket.create_connection(("127.0.0.1", limited.websocket_port)) as idle:
        idle.sendall(b"GET /CP1 HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        idle.settimeout(10)
        began = time.monotonic()
        assert idle.recv(1024) == b""  # closed by the server (OCPP_HANDSHAKE_TIMEOUT=1), not left hanging
        assert time.monotonic() - began < 5


def test_api_bodies_beyond_the_limit_are_refused(limited):
    response = httpx.post(f"{limited.api_url}/api/authorizations", json={"idTag": "X", "padding": "p" * 5000})
    assert response.status_code == 413 and response.json()["error"] == "request_entity_too_large"


INJECTIONS = ["' OR '1'='1", "CP1'; DROP TABLE charge_points;--", "../../etc/passwd", "%00", "<script>alert(1)</script>",
              "1 UNION SELECT password_hash FROM charge_points"]


@pytest.mark.parametrize("value", INJECTIONS)
async def test_sql_and_path_tricks_in_filters_change_nothing(server, value):
    db = server.database
    before = {table: db.scalar(f"SELECT count(*) FROM {table}") for table in ("charge_points", "transactions", "id_tags")}
    async with httpx.AsyncClient(base_url=server.api_url) as api:
        for path, params in (("/api/transactions", {"chargePointId": value}), ("/api/logs", {"chargePointId": value}),
                             ("/api/connectors", {"chargePointId": value}), ("/api/authorizations", {"idTag": value[:20]}),
                             ("/api/transactions", {"transactionId": value}), ("/api/logs", {"level": value})):
            response = await api.get(path, params=params)
            assert response.status_code in (200, 400, 404), (path, value, response.text)
            if response.status_code == 200:
                assert response.json() == []
        assert (await api.get(f"/api/charge-points/{value}")).status_code in (400, 404)
        deleted = await api.delete("/api/authorizations", params={"idTag": value[:20]})
        assert deleted.status_code in (400, 404)
    after = {table: db.scalar(f"SELECT count(*) FROM {table}") for table in before}
    assert after == before


async def test_tricky_charge_point_ids_at_the_handshake(server):
    for path in ("/..%2F..%2Fetc%2Fpasswd", "/ocpp/../api/status", "/CP%00"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(server.ws_url + path, subprotocols=["ocpp1.6"]):
                pass
        assert refused.value.response.status_code in (400, 404), path
    # A quote is printable ASCII, so it may name a charge point: it is stored as it is, nothing more.
    tricky = "CP'; DROP TABLE x;--" + new_id("")[-4:]
    async with connected(server, tricky) as charge_point:
        await charge_point.call(call.Heartbeat())
    assert server.database.scalar("SELECT id FROM charge_points WHERE id = :id", id=tricky) == tricky


async def test_nul_characters_are_refused_everywhere(server):
    async with raw_connection(server) as charge_point:
        reply = await charge_point.exchange('[2,"n1","DataTransfer",{"vendorId":"a\\u0000b"}]')
        assert reply[:3] == [4, "n1", "PropertyConstraintViolation"]
        assert (await charge_point.exchange([2, "h", "Heartbeat", {}]))[0] == 3
    async with httpx.AsyncClient(base_url=server.api_url) as api:
        assert (await api.get("/api/charge-points/CP%00")).status_code == 400
        assert (await api.get("/api/logs?chargePointId=CP%00")).status_code == 400
        body = await api.post("/api/authorizations", content=b'{"idTag": "A\\u0000"}')
        assert body.status_code == 400
