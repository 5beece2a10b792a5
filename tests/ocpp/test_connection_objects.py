"""A connection's objects are freed by their reference counts when it ends, not by the cyclic garbage
collector: the process freezes what lives long (app/collector.py), and a frozen object in a reference
cycle would never be freed."""
import gc
import os
import socket
import weakref

import gevent
import gevent.event
import gevent.socket
import pytest
from simple_websocket import Server

from app.ocpp import transport

OPTIONS = {"subprotocols": ["ocpp1.6"], "ping_interval": None, "max_message_size": 65536,
           "thread_class": transport.DeferredReader, "event_class": transport.MessageSignal}


def masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[n % 4] for n, b in enumerate(payload))


def test_a_connection_that_ends_leaves_no_reference_cycle():
    ours, peer = socket.socketpair()
    environ = {"gunicorn.socket": ours, "HTTP_HOST": "localhost", "HTTP_UPGRADE": "websocket",
               "HTTP_CONNECTION": "Upgrade", "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
               "HTTP_SEC_WEBSOCKET_VERSION": "13", "HTTP_SEC_WEBSOCKET_PROTOCOL": "ocpp1.6"}
    received = []
    gc.disable()  # whatever is not freed by reference counting stays
    try:
        ws = Server(environ, **OPTIONS)
        handshake = weakref.ref(ws.ws.handshake)
        transport.prepare(ws)
        assert handshake() is None  # the HTTP handshake's state is not kept for the connection's life
        assert peer.recv(4096).startswith(b"HTTP/1.1 101")
        peer.sendall(masked(0x1, b'[2,"1","Heartbeat",{}]') + masked(0x8, (1000).to_bytes(2, "big")))
        transport.read_messages(ws, received.append)  # returns at the close frame
        assert received == ['[2,"1","Heartbeat",{}]'] and not ws.connected
        gone = [weakref.ref(ws), weakref.ref(ws.event), weakref.ref(ws.ws), weakref.ref(ws.sock)]
        del ws, environ
        assert [ref() is None for ref in gone] == [True] * len(gone)
    finally:
        gc.enable()
        peer.close()


def test_a_connection_served_apart_outlives_the_request_that_opened_it():
    """serve_apart(): the WebSocket stays open through flask-sock's close() as the view returns and
    gunicorn's close() as the request ends; the socket closes for real once the connection is served."""
    ours, peer = gevent.socket.socketpair()
    peer.settimeout(5)
    environ = {"gunicorn.socket": ours, "HTTP_HOST": "localhost", "HTTP_UPGRADE": "websocket",
               "HTTP_CONNECTION": "Upgrade", "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
               "HTTP_SEC_WEBSOCKET_VERSION": "13", "HTTP_SEC_WEBSOCKET_PROTOCOL": "ocpp1.6"}
    ws = Server(environ, **OPTIONS)
    transport.prepare(ws)
    assert peer.recv(4096).startswith(b"HTTP/1.1 101")
    received, served = [], gevent.event.Event()

    def serve():
        transport.read_messages(ws, received.append)
        served.set()
    transport.serve_apart(ws, serve)
    ws.close()  # flask-sock's, as the view returns
    ours.close()  # gunicorn's, as the request ends
    gevent.sleep(0.1)
    peer.settimeout(0.2)
    with pytest.raises(TimeoutError):
        peer.recv(4096)  # no close frame, no end of stream
    peer.settimeout(5)
    peer.sendall(masked(0x1, b'[2,"1","Heartbeat",{}]'))
    gevent.sleep(0.1)
    assert received == ['[2,"1","Heartbeat",{}]'] and ws.connected
    peer.sendall(masked(0x8, (1000).to_bytes(2, "big")))
    assert served.wait(5)
    answer = b""
    while chunk := peer.recv(4096):  # the close frame's answer, then the end of the stream
        answer += chunk
    assert answer == bytes([0x88, 2]) + (1000).to_bytes(2, "big")
    peer.close()
