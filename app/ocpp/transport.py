"""Frames on and off the socket: simple-websocket (under flask-sock), driven by the connection's own greenlet.

simple-websocket reads each connection in a thread of its own (under gevent, a second greenlet) and
hands messages over through an Event. Its thread_class and event_class options let the reading loop
run in the greenlet that serves the connection instead: one greenlet per charge point, which is about
16 KiB less per connection (each greenlet holds its own Python frame stack) and a switch less per frame.
Messages are handled as the loop reads them; while one is handled the next waits in the socket, which
is what OCPP's one-CALL-at-a-time asks of a charge point anyway.

The greenlet that serves a connection is not the HTTP request's: that one runs deep under gunicorn,
Flask and flask-sock, and suspended in a read it keeps their C stack (5 KiB) and, with its request,
the WSGI environ, Flask's contexts and gunicorn's parser. serve_apart() hands the open WebSocket to a
greenlet of its own and lets the request end (see its docstring for what that saves).

Pings are not simple-websocket's: it pings from the reading loop, which then waits for every frame
through a selector of its own with a timeout (a watcher, a timer and an event per connection, each
started and stopped for every frame). The loop here waits on the socket alone, and one greenlet pings
every connection of the process (keepalive.py).
"""
import socket
import time
from collections.abc import Callable

import gevent
from gevent.lock import BoundedSemaphore
from wsproto.events import Ping

# A peer that does not answer our close frame is cut off after this many seconds.
CLOSE_GRACE_SECONDS = 5.0


class DeferredReader:
    """simple-websocket's thread_class: keeps the reading loop until run() is called in our greenlet."""

    def __init__(self, target):
        self._target = target
        self.name = "ocpp-reader"

    def start(self) -> None:
        pass

    def run(self) -> None:
        # Dropped as it starts: the bound method refers to the connection, which refers to this reader.
        target, self._target = self._target, None
        target()


class MessageSignal:
    """simple-websocket's event_class: a message (or the end) has been read; call the handler now."""

    def __init__(self):
        self.handler = None

    def set(self) -> None:
        if self.handler is not None:
            self.handler()

    def clear(self) -> None:
        pass

    def wait(self, timeout=None) -> bool:
        raise RuntimeError("messages are handled as they are read; receive() is not used")


class WholeWrites:
    """The socket, writing each frame whole and one at a time.

    simple-websocket writes with socket.send(), which under gevent may write part of a frame when the
    peer reads slowly; and our CALLs (from API greenlets) are written beside the reading loop's replies.
    """

    def __init__(self, sock):
        self._sock = sock
        self._lock = BoundedSemaphore()
        # When the peer last sent anything (a frame, or the pong to our ping): the connection's liveness,
        # known here without a database write.
        self.last_received = time.monotonic()
        self.pinged_at: float | None = None

    def recv(self, size: int) -> bytes:
        data = self._sock.recv(size)
        self.last_received = time.monotonic()
        return data

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    def hold(self) -> None:
        """Keep the socket open past its owner's close(): gunicorn closes the request's socket as the
        request ends. The socket's own count of the files made from it (makefile() keeps one, gevent's
        socket and ssl socket alike) defers that close until release()."""
        self._sock._io_refs += 1

    def release(self) -> None:
        self._sock._decref_socketios()  # closes it, if its owner has

    def __getattr__(self, name):
        return getattr(self._sock, name)


def server_options(config) -> dict:
    """SOCK_SERVER_OPTIONS for flask-sock."""
    return {
        "subprotocols": ["ocpp1.6"],
        "ping_interval": None,  # keepalive.py pings
        "max_message_size": config["OCPP_MAX_MESSAGE_SIZE"],
        "thread_class": DeferredReader,
        "event_class": MessageSignal,
    }


class _HandshakeDone:
    """Stands in for wsproto's handshake state once the connection is open, when all wsproto still asks
    of it is its events, and it has none."""

    @staticmethod
    def events():
        return ()


_HANDSHAKE_DONE = _HandshakeDone()


def prepare(ws) -> None:
    ws.sock = WholeWrites(ws.sock)
    if ws.ws.connection is not None:
        # wsproto keeps the HTTP handshake's state (an h11 connection, its buffers, the request) as long
        # as the WebSocket lives: 2.8 KiB a connection, measured with tracemalloc.
        ws.ws.handshake = _HANDSHAKE_DONE
    ws.environ = None  # the request's; simple-websocket reads it during the handshake only


def serve_apart(ws, serve: Callable[[], None]) -> None:
    """Call serve() in a greenlet of its own, and let the HTTP request that opened the WebSocket end.

    Served in the request's greenlet, a connection kept that greenlet's C stack (5,144 bytes saved at
    every switch, against 2,808 here) and the request's objects for as long as it lived: the worker's
    RSS per idle connection went from 30.9 KiB to 20.3 (3,000 on SQLite, the two runs one after the
    other). Outside gunicorn (the development server) the request's greenlet serves it.
    """
    if ws.mode != "gunicorn":
        serve()
        return
    ws.sock.hold()

    def skip_the_close_as_the_view_returns(*args, **kwargs):
        # flask-sock closes the WebSocket right after the view returns, with no switch in between: that
        # close is skipped, once.
        del ws.close
    ws.close = skip_the_close_as_the_view_returns

    def run() -> None:
        ws.__dict__.pop("close", None)  # should flask-sock not have closed it
        try:
            serve()
        finally:
            ws.sock.release()
    gevent.spawn(run)


def seconds_since_received(ws) -> float:
    """Seconds since the peer last sent anything (frames and pongs alike)."""
    return time.monotonic() - ws.sock.last_received


def ping(ws, answer_within: float) -> bool:
    """Ping the peer, unless a ping of ours is still unanswered; False when the peer has sent nothing, not
    even a pong, for `answer_within` seconds since that ping."""
    sock = ws.sock
    now = time.monotonic()
    if sock.pinged_at is not None and sock.last_received < sock.pinged_at:
        return now - sock.pinged_at < answer_within
    sock.pinged_at = now
    sock.send(ws.ws.send(Ping()))
    return True


def read_messages(ws, handle) -> None:
    """Read until the connection closes, calling handle(message) for each message as it arrives."""
    def drain():
        while ws.input_buffer:
            handle(ws.input_buffer.pop(0))
    ws.event.handler = drain
    try:
        ws.thread.run()
    finally:
        # The closure refers to the connection, which refers to this signal: without the cycle, the
        # connection's objects are freed as it ends, not by the collector (see app/collector.py).
        ws.event.handler = None


def close(ws, code: int, reason: str) -> None:
    """Send the close frame; the reading loop ends when the peer answers, or after the grace period."""
    ws.close(reason=code, message=reason)
    gevent.spawn_later(CLOSE_GRACE_SECONDS, _cut_off, ws)


def _cut_off(ws) -> None:
    try:
        ws.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
