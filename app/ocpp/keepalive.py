"""WebSocket pings for every connection of the process, from one greenlet.

Each connection is pinged about once per OCPP_WEBSOCKET_PING_INTERVAL, and closed (1008) when it has
left a ping unanswered, sending nothing at all, for that long. The pings of a round are spread over
the interval in one-second slices: 19,000 pings at once would bring 19,000 pongs at once, and every
frame of every other charge point would wait behind them.
"""
import time

import gevent

SLICE_SECONDS = 1.0


def ping_forever(registry, interval: float) -> None:
    while True:
        ping_round(registry, interval)


def ping_round(registry, interval: float) -> None:
    """One round: every session held now, pinged in slices over `interval` seconds."""
    started = time.monotonic()
    sessions = registry.local_sessions()
    slices = max(1, min(len(sessions), round(interval / SLICE_SECONDS)))
    for n in range(slices):
        for session in sessions[n::slices]:
            session.keep_alive(interval)
        gevent.sleep(max(0.0, started + (n + 1) * interval / slices - time.monotonic()))


def start(app) -> gevent.Greenlet:
    return gevent.spawn(ping_forever, app.extensions["ocpp_connections"], app.config["OCPP_WEBSOCKET_PING_INTERVAL"])
