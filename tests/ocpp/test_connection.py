"""The WebSocket endpoint: paths, subprotocol, refused ids, one connection per charge point, ports."""
import asyncio

import pytest
import websockets
from ocpp.v16 import call

from tests.charge_points import connected, eventually, new_id


async def test_connects_at_root_and_under_ocpp_with_the_ocpp16_subprotocol(server, db):
    for path in ("", "ocpp/"):
        async with connected(server, path=path) as charge_point:
            assert charge_point._connection.subprotocol == "ocpp1.6"
            reply = await charge_point.call(call.Heartbeat())
            assert reply.current_time.endswith("Z")
        assert db.scalar("SELECT count(*) FROM charge_points WHERE id = :id", id=charge_point.id) == 1


@pytest.mark.parametrize("path, status", [
    ("/" + "x" * 49, 400),
    ("/CP%01X", 400),
    ("/CP%C3%A9", 400),
    ("/", 404),
    ("/ocpp/", 404),
])
async def test_bad_charge_point_ids_are_refused_at_the_handshake(server, db, path, status):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(server.ws_url + path, subprotocols=["ocpp1.6"]):
            pass
    assert refused.value.response.status_code == status
    assert db.scalar("SELECT count(*) FROM charge_points WHERE id LIKE 'xxxxxxxx%'") == 0


async def test_the_longest_id_the_spec_allows_is_accepted(server, db):
    async with connected(server, "L" * 44 + new_id("")[-4:]) as charge_point:
        await charge_point.call(call.Heartbeat())
    assert len(charge_point.id) == 48


async def test_a_charge_point_without_the_subprotocol_is_closed(server, db):
    charge_point_id = new_id()
    async with websockets.connect(f"{server.ws_url}/{charge_point_id}") as connection:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await connection.recv()
    assert closed.value.rcvd.code == 1002
    assert db.scalar("SELECT count(*) FROM charge_points WHERE id = :id", id=charge_point_id) == 0


async def test_a_reconnect_replaces_the_old_connection(server, db):
    charge_point_id = new_id()
    async with connected(server, charge_point_id) as first:
        await first.call(call.Heartbeat())
        async with connected(server, charge_point_id) as second:
            await asyncio.wait_for(first._connection.wait_closed(), 5)
            assert first._connection.close_code == 1000
            # The old connection's end must not mark the charge point disconnected.
            await asyncio.sleep(0.2)
            row = db.rows("SELECT connected_at, disconnected_at FROM charge_points WHERE id = :id",
                          id=charge_point_id)[0]
            assert row["disconnected_at"] is None
            assert (await second.call(call.Heartbeat())).current_time
    await eventually(lambda: db.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id",
                                   id=charge_point_id) is not None)
    events = [row["event"] for row in db.rows(
        "SELECT event FROM system_logs WHERE charge_point_id = :id ORDER BY id", id=charge_point_id)]
    assert events.count("connected") == 2 and events.count("disconnected") == 1


async def test_connection_times_are_recorded(server, db):
    async with connected(server) as charge_point:
        await charge_point.call(call.Heartbeat())
        row = db.rows("SELECT * FROM charge_points WHERE id = :id", id=charge_point.id)[0]
        assert row["connected_at"] is not None and row["disconnected_at"] is None
        assert row["last_seen"] >= row["connected_at"]
    await eventually(lambda: db.scalar("SELECT disconnected_at FROM charge_points WHERE id = :id",
                                   id=charge_point.id) is not None)


async def test_the_websocket_is_not_served_on_the_api_port(server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"ws://127.0.0.1:{server.api_port}/{new_id()}", subprotocols=["ocpp1.6"]):
            pass
    assert refused.value.response.status_code == 404


async def test_compression_is_not_negotiated_by_default(server):
    async with connected(server, compression="deflate") as charge_point:
        assert charge_point._connection.response.headers.get("Sec-WebSocket-Extensions") is None
