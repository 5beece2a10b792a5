"""WebSocket pings (app/ocpp/keepalive.py): every connection is pinged about once an interval, one that
answers stays, one that leaves a ping unanswered for an interval is closed with 1008; the pings of a
round are spread over the interval."""
import asyncio
import struct
import time

import gevent
import pytest

from app.ocpp import keepalive
from tests.charge_points import CLOSE, PING, PONG, TEXT, BareWebSocket
from tests.conftest import running_server

POLICY_VIOLATION = 1008


@pytest.fixture(scope="module")
def pinging_server(backend, tmp_path_factory):
    with running_server(backend, tmp_path_factory, OCPP_WEBSOCKET_PING_INTERVAL=1) as server:
        yield server


async def test_a_connection_that_answers_no_ping_is_closed_with_1008(pinging_server):
    connection = await BareWebSocket.open(pinging_server)
    try:
        assert (await connection.frame(timeout=5))[0] == PING
        opcode, payload = await connection.frame(timeout=5)  # not answered: the next is the close
        assert opcode == CLOSE
        assert struct.unpack("!H", payload[:2])[0] == POLICY_VIOLATION
    finally:
        connection.close()


async def test_a_connection_that_answers_its_pings_stays_and_is_pinged_every_interval(pinging_server):
    connection = await BareWebSocket.open(pinging_server)
    try:
        pings, began = 0, time.monotonic()
        while time.monotonic() - began < 5:
            opcode, payload = await connection.frame(timeout=5)
            assert opcode == PING
            pings += 1
            connection.send(PONG, payload)
        assert 3 <= pings <= 7  # about one a second
        connection.send(TEXT, b'[2,"hb","Heartbeat",{}]')
        while (answer := await connection.frame(timeout=5))[0] == PING:
            connection.send(PONG, answer[1])
        assert answer[0] == TEXT and answer[1].startswith(b'[3,"hb"')
    finally:
        connection.close()


class CountingSession:
    def __init__(self):
        self.pinged_at = []

    def keep_alive(self, answer_within: float) -> None:
        self.pinged_at.append(time.monotonic())


class Sessions:
    def __init__(self, count: int):
        self.sessions = [CountingSession() for _ in range(count)]

    def local_sessions(self):
        return list(self.sessions)


def test_a_round_pings_each_session_once_spread_over_the_interval(monkeypatch):
    monkeypatch.setattr(keepalive, "SLICE_SECONDS", 0.1)
    registry = Sessions(1000)
    began = time.monotonic()
    gevent.spawn(keepalive.ping_round, registry, 1.0).join(timeout=5)
    took = time.monotonic() - began
    assert 0.95 <= took < 2
    assert all(len(session.pinged_at) == 1 for session in registry.sessions)
    moments = sorted(session.pinged_at[0] - began for session in registry.sessions)
    assert moments[99] < 0.1 and moments[-1] >= 0.85  # ten slices of 100, not all at once
    assert moments[499] >= 0.35
