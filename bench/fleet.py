"""A fleet of simulated OCPP 1.6J charge points, to test an installation and to load it.

    python bench/fleet.py --url ws://127.0.0.1:9000 --charge-points 100 --duration 60 --transactions
    python bench/fleet.py --url ws://127.0.0.1:9000 --charge-points 300 --duration 20 --max-rate
    python bench/fleet.py --url ws://127.0.0.1:9000 --charge-points 300 --duration 20 --rate 1500

Each charge point boots, reports the status of its connectors, sends heartbeats, optionally runs
transactions with meter values, and answers the central system's CALLs as a real one would (and
sends MeterValues or StatusNotification after accepting a TriggerMessage for them). Frames are written
by hand (valid OCPP 1.6: the tests check them against the official schemas): a load generator that
validated every frame would measure itself. Every CALL's round trip is timed.

Load: --max-rate has every charge point send its next CALL as soon as the previous one is answered
(OCPP allows one outstanding CALL); --rate R sends R CALLs a second across the fleet on a fixed
schedule (open loop), which is what latency must be measured under.
"""
import argparse
import asyncio
import gc
import itertools
import json
import multiprocessing
import os
import random
import resource
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

try:  # libuv's event loop where installed (make bench does): on asyncio's own, the load generator's one core
    # was the bottleneck of the first seconds of a 19,000 storm
    import uvloop
except ImportError:
    uvloop = None


CONNECTORS = 2

# Connections to 127.0.0.1 go out from these addresses in turn (all of 127.0.0.0/8 is this machine's on
# Linux), each with its own ephemeral ports. Through one address, 19,000 connections and the TIME_WAITs
# of a storm's closed ones took most of its 28,000 ports, and the kernel's search for a free one at each
# connect() took the load generator's core (as system time) for 10 to 20 s of every 19,000 storm: the
# server sat idle and the storm measured the load generator. The port is chosen at connect(), not at
# bind() (IP_BIND_ADDRESS_NO_PORT), where the whole address pair tells it apart.
_LOOPBACK_SOURCES = itertools.cycle([f"127.0.0.{n}" for n in range(2, 18)])
_IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # (Linux's value, for older Pythons)


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Refused(Exception):
    """The server answered the handshake 503: come back after retry_after seconds."""

    def __init__(self, retry_after: float):
        super().__init__(f"503, Retry-After {retry_after:g}")
        self.retry_after = retry_after


@dataclass
class Stats:
    """What the fleet saw: counts and round-trip times in seconds."""
    connected: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    sent: int = 0
    answered: int = 0
    call_errors: int = 0
    timeouts: int = 0
    commands_answered: int = 0
    round_trips: list = field(default_factory=list)
    booted: int = 0            # charge points whose current connection is booted (Accepted, connectors reported)
    boots: int = 0             # boots completed, reconnections' included
    refused: int = 0           # handshakes answered 503 (retried after Retry-After)
    pending: int = 0           # BootNotifications answered Pending (booted again after the interval)
    boot_failures: int = 0     # connections on which the boot did not complete (the charge point starts again)
    failure_kinds: dict = field(default_factory=dict)  # failed connection attempts by what failed them
    heartbeat_trips: list = field(default_factory=list)
    # When the latest boot completed (time.monotonic(), the same clock in every process of the machine): the
    # moment a storm is over, where the status file, written every second, would say it up to a second late.
    last_boot_at: float = 0.0

    def merge(self, other: "Stats") -> None:
        for name in ("connected", "connect_failures", "disconnects", "sent", "answered", "call_errors", "timeouts",
                     "commands_answered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.round_trips.extend(other.round_trips)

    def summary(self, seconds: float) -> dict:
        trips = sorted(self.round_trips)

        def percentile(share: float) -> float | None:
            return round(trips[min(len(trips) - 1, int(len(trips) * share))] * 1000, 2) if trips else None
        return {"connected": self.connected, "connect_failures": self.connect_failures,
                "disconnects": self.disconnects, "sent": self.sent, "answered": self.answered,
                "call_errors": self.call_errors, "timeouts": self.timeouts,
                "commands_answered": self.commands_answered,
                "rate_per_second": round(self.answered / seconds, 1) if seconds else None,
                "p50_ms": percentile(0.50), "p95_ms": percentile(0.95), "p99_ms": percentile(0.99),
                "max_ms": round(trips[-1] * 1000, 2) if trips else None,
                "mean_ms": round(statistics.fmean(trips) * 1000, 2) if trips else None}


class HandshakeFailed(ConnectionError):
    """The WebSocket handshake got no 101 (nor a 503, which is Refused): what it got instead."""


# Any key will do: the server answers with its digest, which a load generator need not check.
_HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n")
_ZERO_MASK = b"\x00\x00\x00\x00"  # a client must mask its frames; masked with zeros, the payload stays as it is


def _written(writer: asyncio.StreamWriter, data: bytes) -> bool:
    """Write, unless the connection is closed (reset, or closed by us): uvloop raises RuntimeError on a
    write to a closed transport, where asyncio's own loop drops the bytes."""
    if writer.is_closing():
        return False
    writer.write(data)
    return True


async def _open_connection(host: str, port: int):
    if host != "127.0.0.1" or not sys.platform.startswith("linux"):
        return await asyncio.open_connection(host, port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((next(_LOOPBACK_SOURCES), 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


class RawWebSocket:
    """The least a charge point needs of RFC 6455 over asyncio streams: text frames out, text frames in,
    pings answered, close. The websockets library costs the load generator about as much CPU per
    connection as the server spends on it: with one core for 19,000 charge points reconnecting at once,
    it sent its handshakes so late that the server's handshake timeout closed them, and the storm
    measured the load generator."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader, self._writer = reader, writer
        self.close_code: int | None = None

    @classmethod
    async def open(cls, url: str, path: str, timeout: float) -> "RawWebSocket":
        """Connect and complete the handshake within timeout seconds; raises Refused on 503, HandshakeFailed
        on anything else. (asyncio.timeout rather than wait_for, which wraps each step in a task of its own:
        in a storm's first seconds, the load generator's core was the bottleneck.)"""
        host_port = url.split("://", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        async with asyncio.timeout(timeout):
            reader, writer = await _open_connection(host, int(port))
            try:
                head = await cls._handshake(reader, writer, _HANDSHAKE.format(path=path, host=host_port).encode())
            except BaseException:
                writer.close()
                raise
        return cls._opened(reader, writer, head)

    @staticmethod
    async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bytes:
        if not _written(writer, request):
            # reset as it was accepted (a server going away)
            raise ConnectionResetError("the connection was closed before the handshake was sent")
        try:
            return await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            raise HandshakeFailed("closed before the status line") from None

    @classmethod
    def _opened(cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> "RawWebSocket":
        try:
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            if status == 101:
                return cls(reader, writer)
            headers = {name.strip().lower(): value.strip()
                       for name, _, value in (line.partition(":") for line in header_lines if line)}
            if status == 503:
                raise Refused(float(headers.get("retry-after", "1")))
            raise HandshakeFailed(f"HTTP {status}")
        except BaseException:
            writer.close()
            raise

    async def send(self, text: str) -> None:
        payload = text.encode()
        length = len(payload)
        if length < 126:
            header = bytes((0x81, 0x80 | length))
        elif length < 65536:
            header = bytes((0x81, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((0x81, 0x80 | 127)) + length.to_bytes(8, "big")
        if not _written(self._writer, header + _ZERO_MASK + payload):
            raise ConnectionError("the connection is closed")
        await self._writer.drain()

    def __aiter__(self):
        return self._messages()

    async def _messages(self):
        """The text of each message, until the connection closes (a close frame or the end of the stream)."""
        try:
            while True:
                first, second = await self._reader.readexactly(2)
                length = second & 0x7F
                if length == 126:
                    length = int.from_bytes(await self._reader.readexactly(2), "big")
                elif length == 127:
                    length = int.from_bytes(await self._reader.readexactly(8), "big")
                payload = await self._reader.readexactly(length)  # (a server's frames are not masked)
                opcode = first & 0x0F
                if opcode == 0x1:
                    yield payload.decode()
                elif opcode == 0x8:  # the server closes: answer its close frame, then the connection ends
                    self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                    await self.close(self.close_code if len(payload) >= 2 else 1000)
                    return
                elif opcode == 0x9:  # ping: pong with the same payload
                    _written(self._writer, bytes((0x8A, 0x80 | len(payload))) + _ZERO_MASK + payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close_code = self.close_code or 1006
            self._writer.close()

    async def close(self, code: int = 1000) -> None:
        if not self._writer.is_closing():
            try:
                self._writer.write(bytes((0x88, 0x82)) + _ZERO_MASK + code.to_bytes(2, "big"))
                await self._writer.drain()
            except ConnectionError:
                pass
            self._writer.close()


class ChargePoint:
    """One simulated charge point over one WebSocket."""

    def __init__(self, charge_point_id: str, stats: Stats, timeout: float = 30):
        self.id, self.stats, self.timeout = charge_point_id, stats, timeout
        self.connection = None
        self.pending: dict[str, asyncio.Future] = {}
        self.ids = itertools.count(1)
        self.transactions: dict[int, int] = {}
        self.meter_wh = random.randrange(0, 1_000_000)
        self.recording = False  # round trips count once the measured phase begins
        self.closed = asyncio.Event()
        self.is_booted = False
        self.boot_count = 0

    async def connect(self, url: str) -> None:
        """Open the WebSocket; raises Refused (with the server's Retry-After) on 503."""
        try:
            self.connection = await RawWebSocket.open(url, f"/{self.id}", timeout=60)
        except Refused:
            self.stats.refused += 1
            raise
        self.closed = asyncio.Event()
        self.stats.connected += 1
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.connection:
                message = json.loads(text)
                if message[0] == 2:
                    await self._answer(message)
                elif message[1] in self.pending:
                    self.pending.pop(message[1]).set_result(message)
        except ConnectionError:
            pass
        finally:
            self.stats.disconnects += 1
            self.closed.set()
            if self.is_booted:
                self.is_booted = False
                self.stats.booted -= 1
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("disconnected"))

    async def call(self, action: str, payload: dict) -> dict | None:
        """Send a CALL and wait for its answer; the CALLRESULT payload, or None."""
        unique_id = str(next(self.ids))
        answer = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = answer
        began = time.perf_counter()
        self.stats.sent += 1
        await self.connection.send(json.dumps([2, unique_id, action, payload]))
        try:
            message = await asyncio.wait_for(answer, self.timeout)
        except asyncio.TimeoutError:
            self.pending.pop(unique_id, None)
            self.stats.timeouts += 1
            return None
        if self.recording:
            self.stats.round_trips.append(time.perf_counter() - began)
        self.stats.answered += 1
        if message[0] == 4:
            self.stats.call_errors += 1
            return None
        return message[2]

    # --- what a charge point sends ---

    async def boot(self) -> bool:
        """BootNotification (again after the interval while the answer is Pending), then the status of
        every connector; whether it got that far (Accepted, and every answer a CALLRESULT)."""
        while True:
            answer = await self.call("BootNotification", {"chargePointVendor": "Fleet",
                                                          "chargePointModel": "Simulated",
                                                          "chargePointSerialNumber": self.id[-25:],
                                                          "firmwareVersion": "1.0"})
            if answer is None or answer.get("status") == "Rejected":
                return False
            if answer.get("status") == "Accepted":
                break
            self.stats.pending += 1
            await asyncio.sleep(answer.get("interval", 10))
        for connector_id in range(CONNECTORS + 1):
            if await self.call("StatusNotification", {"connectorId": connector_id, "errorCode": "NoError",
                                                      "status": "Available", "timestamp": now_text()}) is None:
                return False
        if self.connection is None or self.closed.is_set():
            return False
        self.is_booted = True
        self.boot_count += 1
        self.stats.booted += 1
        self.stats.boots += 1
        self.stats.last_boot_at = time.monotonic()
        return True

    async def status(self, connector_id: int, status: str) -> None:
        await self.call("StatusNotification", {"connectorId": connector_id, "errorCode": "NoError", "status": status,
                                               "timestamp": now_text()})

    async def heartbeat(self) -> None:
        began = time.perf_counter()
        if await self.call("Heartbeat", {}) is not None and self.recording:
            self.stats.heartbeat_trips.append(time.perf_counter() - began)

    async def start_transaction(self, connector_id: int = 1) -> None:
        id_tag = f"TAG{self.id[-8:]}"
        await self.call("Authorize", {"idTag": id_tag})
        await self.status(connector_id, "Preparing")
        answer = await self.call("StartTransaction", {"connectorId": connector_id, "idTag": id_tag,
                                                      "meterStart": self.meter_wh, "timestamp": now_text()})
        if answer is not None:
            self.transactions[connector_id] = answer["transactionId"]
            await self.status(connector_id, "Charging")

    async def meter_values(self, connector_id: int = 1, context: str = "Sample.Periodic") -> None:
        self.meter_wh += random.randrange(50, 300)
        payload = {"connectorId": connector_id, "meterValue": [{"timestamp": now_text(), "sampledValue": [
            {"value": str(self.meter_wh), "context": context},
            {"value": str(random.randrange(3000, 11000)), "measurand": "Power.Active.Import", "unit": "W",
             "context": context},
            {"value": f"{random.uniform(10, 16):.1f}", "measurand": "Current.Import", "unit": "A", "phase": "L1",
             "context": context}]}]}
        if connector_id in self.transactions:
            payload["transactionId"] = self.transactions[connector_id]
        await self.call("MeterValues", payload)

    async def stop_transaction(self, connector_id: int = 1) -> None:
        transaction_id = self.transactions.pop(connector_id, None)
        if transaction_id is not None:
            await self.call("StopTransaction", {"transactionId": transaction_id, "meterStop": self.meter_wh,
                                                "timestamp": now_text(), "reason": "EVDisconnected"})
            await self.status(connector_id, "Available")

    async def load_message(self, n: int) -> None:
        """The mix of a loaded fleet: 3 MeterValues (3 samples each), 1 StatusNotification, 1 Heartbeat."""
        kind = n % 5
        if kind < 3:
            await self.meter_values()
        elif kind == 3:
            await self.status(2, random.choice(("Available", "Preparing", "Charging", "Finishing")))
        else:
            await self.heartbeat()

    # --- what a charge point answers ---

    async def _answer(self, message: list) -> None:
        _, unique_id, action, payload = message
        reply, then = self._reply(action, payload)
        await self.connection.send(json.dumps(reply(unique_id)))
        self.stats.commands_answered += 1
        if then is not None:
            asyncio.get_running_loop().create_task(then)

    def _reply(self, action: str, payload: dict):
        def result(body):
            return lambda unique_id: [3, unique_id, body]
        accepted = result({"status": "Accepted"})
        if action == "TriggerMessage":
            follow_up = {"MeterValues": lambda: self.meter_values(payload.get("connectorId", 1), "Trigger"),
                         "StatusNotification": lambda: self.status(payload.get("connectorId", 0), "Available"),
                         "Heartbeat": self.heartbeat, "BootNotification": self.boot}.get(payload["requestedMessage"])
            return (accepted, follow_up()) if follow_up else (result({"status": "NotImplemented"}), None)
        answers = {
            "Reset": accepted, "RemoteStartTransaction": accepted, "RemoteStopTransaction": accepted,
            "ChangeAvailability": accepted, "ChangeConfiguration": accepted, "ClearCache": accepted,
            "DataTransfer": accepted, "UnlockConnector": result({"status": "Unlocked"}),
            "GetConfiguration": result({"configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
                {"key": "NumberOfConnectors", "readonly": True, "value": str(CONNECTORS)}], "unknownKey": []}),
        }
        if action in answers:
            return answers[action], None
        return (lambda unique_id: [4, unique_id, "NotSupported", f"{action} is not simulated", {}]), None

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


@dataclass
class Plan:
    url: str
    charge_points: int
    duration: float
    prefix: str = "FLEET"
    first: int = 0
    connect_rate: float = 500.0
    heartbeat_interval: float = 60.0
    transactions: bool = False
    meter_interval: float = 10.0
    rate: float | None = None
    max_rate: bool = False
    hold: float = 0.0
    reconnect: bool = False
    reconnect_delay: float = 0.5
    status_file: str | None = None


async def run(plan: Plan) -> dict:
    """Connect and boot the fleet, then run it for plan.duration seconds; the summary of what it saw."""
    stats = Stats()
    fleet = [ChargePoint(f"{plan.prefix}-{plan.first + n}", stats) for n in range(plan.charge_points)]
    began = time.perf_counter()
    await asyncio.gather(*(_connect_and_boot(cp, plan, n / plan.connect_rate) for n, cp in enumerate(fleet)))
    connected = [cp for cp in fleet if cp.connection is not None]
    booted_in = time.perf_counter() - began
    for cp in connected:
        cp.recording = True
    stats.sent = stats.answered = stats.call_errors = stats.timeouts = 0
    deadline = time.perf_counter() + plan.duration
    measuring = time.perf_counter()
    behaviours = [_behave(cp, plan, deadline, index, len(connected)) for index, cp in enumerate(connected)]
    await asyncio.gather(*behaviours)
    seconds = time.perf_counter() - measuring
    if plan.hold:
        await asyncio.sleep(plan.hold)
    await asyncio.gather(*(cp.close() for cp in connected), return_exceptions=True)
    return {**stats.summary(seconds), "booted_in_seconds": round(booted_in, 1), "seconds": round(seconds, 1)}


async def _connect_and_boot(cp: ChargePoint, plan: Plan, delay: float) -> None:
    await asyncio.sleep(delay)
    for _ in range(10):
        try:
            await cp.connect(plan.url)
            if await cp.boot():
                return
            break
        except Refused as refusal:
            await asyncio.sleep(refusal.retry_after)
        except (OSError, EOFError, asyncio.TimeoutError):
            break
    cp.stats.connect_failures += 1
    cp.connection = None


async def run_idle(plan: Plan) -> dict:
    """A fleet that stays: each charge point connects (at plan.connect_rate), boots, reports its
    connectors and sends a Heartbeat every plan.heartbeat_interval until plan.duration has passed; with
    plan.reconnect it connects and boots again, at once, whenever its connection ends (after a 503, when
    Retry-After says). With plan.status_file, what it sees is written there every second (JSON)."""
    stats = Stats()
    fleet = [ChargePoint(f"{plan.prefix}-{plan.first + n}", stats) for n in range(plan.charge_points)]
    began = time.perf_counter()
    deadline = began + plan.duration
    status = asyncio.get_running_loop().create_task(_write_status(plan, stats, fleet, began)) \
        if plan.status_file else None
    await asyncio.gather(*(_stay(cp, plan, n / plan.connect_rate, deadline) for n, cp in enumerate(fleet)))
    if status is not None:
        status.cancel()
        _status(plan, stats, fleet, began)
    summary = {**stats.summary(time.perf_counter() - began), **_idle_figures(stats, fleet, began)}
    await asyncio.gather(*(cp.close() for cp in fleet), return_exceptions=True)
    return summary


async def _stay(cp: ChargePoint, plan: Plan, delay: float, deadline: float) -> None:
    await asyncio.sleep(delay)
    failures_in_a_row = 0
    while time.perf_counter() < deadline:
        try:
            await cp.connect(plan.url)
            failures_in_a_row = 0
            async with asyncio.timeout(120):
                booted = await cp.boot()
            if booted:
                await _heartbeats_until_closed(cp, plan, deadline)
                if time.perf_counter() >= deadline:
                    return
            else:
                cp.stats.boot_failures += 1
        except Refused as refusal:
            await asyncio.sleep(refusal.retry_after)
            continue
        except (OSError, EOFError, asyncio.TimeoutError) as failure:
            cp.stats.connect_failures += 1
            kind = type(failure).__name__ + (f" ({failure})" if isinstance(failure, HandshakeFailed) else "")
            cp.stats.failure_kinds[kind] = cp.stats.failure_kinds.get(kind, 0) + 1
            failures_in_a_row += 1
        if not plan.reconnect:
            return
        if cp.connection is not None and not cp.closed.is_set():
            await cp.close()  # not booted on this connection: start again on a new one
        await asyncio.sleep(_reconnect_delay(plan, failures_in_a_row))


def _reconnect_delay(plan: Plan, failures_in_a_row: int) -> float:
    """After a connection that ended, plan.reconnect_delay, the same for all (a storm comes back at once);
    after failed attempts, a delay that doubles up to 8 s, drawn between it and half as much again, as
    charge points back off (OCPP 2.0.1's RetryBackOff*): attempts that fail every half second would make
    the load generator, not the server, the bottleneck of a storm of thousands. (Capped at 8 s: a
    charge point that waits longer comes back to a server long up, and the storm's seconds would be the
    fleet's.)"""
    if failures_in_a_row == 0:
        return plan.reconnect_delay
    backoff = min(8.0, plan.reconnect_delay * 2 ** failures_in_a_row)
    return random.uniform(backoff, 1.5 * backoff)


async def _heartbeats_until_closed(cp: ChargePoint, plan: Plan, deadline: float) -> None:
    next_heartbeat = time.perf_counter() + random.uniform(0, plan.heartbeat_interval)
    while True:
        moment = min(next_heartbeat, deadline)
        try:
            await asyncio.wait_for(cp.closed.wait(), max(0.0, moment - time.perf_counter()))
            return  # the connection ended
        except asyncio.TimeoutError:
            pass
        if time.perf_counter() >= deadline:
            return
        await cp.heartbeat()
        next_heartbeat += plan.heartbeat_interval


def _idle_figures(stats: Stats, fleet: list, began: float) -> dict:
    trips = sorted(stats.heartbeat_trips)
    return {"booted": stats.booted, "boots": stats.boots, "refused": stats.refused, "pending": stats.pending,
            "min_boot_count": min((cp.boot_count for cp in fleet), default=0),
            "heartbeats": len(trips), "heartbeat_p99_ms": round(trips[int(len(trips) * 0.99)] * 1000, 2)
            if trips else None, "heartbeat_max_ms": round(trips[-1] * 1000, 2) if trips else None,
            "boot_failures": stats.boot_failures,
            "call_errors": stats.call_errors, "timeouts": stats.timeouts, "disconnects": stats.disconnects,
            "connect_failures": stats.connect_failures, "failure_kinds": stats.failure_kinds,
            "last_boot_at": stats.last_boot_at, "elapsed": round(time.perf_counter() - began, 2)}


def _status(plan: Plan, stats: Stats, fleet: list, began: float) -> None:
    path = plan.status_file
    with open(path + ".tmp", "w") as out:
        json.dump(_idle_figures(stats, fleet, began), out)
    os.replace(path + ".tmp", path)


async def _write_status(plan: Plan, stats: Stats, fleet: list, began: float) -> None:
    all_booted = False
    while True:
        if not all_booted and stats.booted == len(fleet):
            # Heartbeat round trips count from the moment the whole fleet is booted.
            all_booted = True
            stats.heartbeat_trips.clear()
            for cp in fleet:
                cp.recording = True
        _status(plan, stats, fleet, began)
        await asyncio.sleep(1)


async def _behave(cp: ChargePoint, plan: Plan, deadline: float, index: int, fleet_size: int) -> None:
    try:
        if plan.max_rate:
            for n in itertools.count():
                if time.perf_counter() >= deadline:
                    return
                await cp.load_message(n)
        elif plan.rate:
            await _paced(cp, plan.rate / fleet_size, deadline, index / plan.rate)
        else:
            await _realistic(cp, plan, deadline)
    except ConnectionError:
        return


async def _paced(cp: ChargePoint, per_second: float, deadline: float, offset: float) -> None:
    """Open loop: this charge point's share of the rate, on a fixed schedule."""
    interval = 1 / per_second
    next_send = time.perf_counter() + offset
    for n in itertools.count():
        next_send += interval
        if next_send >= deadline:
            return
        await asyncio.sleep(max(0.0, next_send - time.perf_counter()))
        await cp.load_message(n)


async def _realistic(cp: ChargePoint, plan: Plan, deadline: float) -> None:
    """Heartbeats, and transactions with meter values every meter_interval when asked for."""
    next_heartbeat = time.perf_counter() + random.uniform(0, plan.heartbeat_interval)
    next_meter = time.perf_counter() + random.uniform(0, plan.meter_interval)
    if plan.transactions:
        await cp.start_transaction()
    while True:
        moment = min(next_heartbeat, next_meter if plan.transactions else deadline, deadline)
        await asyncio.sleep(max(0.0, moment - time.perf_counter()))
        now = time.perf_counter()
        if now >= deadline:
            break
        if now >= next_heartbeat:
            await cp.heartbeat()
            next_heartbeat += plan.heartbeat_interval
        if plan.transactions and now >= next_meter:
            await cp.meter_values()
            next_meter += plan.meter_interval
    if plan.transactions:
        await cp.stop_transaction()


def _run_share(plan: Plan, results) -> None:
    raise_open_file_limit()
    results.put(_run_loop(run(plan)))


def run_processes(plan: Plan, processes: int) -> dict:
    """Run the fleet split over several processes (one core each can only drive so much); merged."""
    if processes <= 1:
        raise_open_file_limit()
        return _run_loop(run(plan))
    results = multiprocessing.get_context("spawn").Queue()
    share = plan.charge_points // processes
    workers = []
    for n in range(processes):
        count = share if n < processes - 1 else plan.charge_points - share * (processes - 1)
        part = Plan(**{**vars(plan), "charge_points": count, "first": plan.first + n * share,
                       "rate": plan.rate / processes if plan.rate else None})
        worker = multiprocessing.get_context("spawn").Process(target=_run_share, args=(part, results))
        worker.start()
        workers.append(worker)
    summaries = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return merge(summaries)


def merge(summaries: list[dict]) -> dict:
    """Counts and rates add up; for latencies, the worst share's percentiles (an upper bound)."""
    merged = {key: sum(summary[key] or 0 for summary in summaries)
              for key in ("connected", "connect_failures", "disconnects", "sent", "answered", "call_errors",
                          "timeouts", "commands_answered", "rate_per_second")}
    for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "booted_in_seconds", "seconds"):
        values = [summary[key] for summary in summaries if summary[key] is not None]
        merged[key] = max(values) if values else None
    return merged


# The cyclic garbage collector's young generation is collected after this many allocations (Python's
# default is 700), and the older ones hardly ever: with 19,000 charge points' tasks, futures and streams
# alive, the default thresholds had the collector walk them again and again, 55 % of the load generator's
# core in a storm's first seconds (py-spy --native), while the server waited for its connections.
# (Cyclic garbage that outlives a young collection waits for an older one: a load generator's run ends
# long before that matters.)
GC_THRESHOLDS = (100_000, 1_000, 1_000)


def _run_loop(coroutine):
    gc.set_threshold(*GC_THRESHOLDS)
    return uvloop.run(coroutine) if uvloop is not None else asyncio.run(coroutine)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="ws://host:port (the charge points connect to URL/<id>)")
    parser.add_argument("--charge-points", type=int, default=10)
    parser.add_argument("--duration", type=float, default=30, help="seconds of running after all have booted")
    parser.add_argument("--prefix", default=f"FLEET{os.getpid()}")
    parser.add_argument("--connect-rate", type=float, default=500, help="new connections per second")
    parser.add_argument("--heartbeat-interval", type=float, default=60)
    parser.add_argument("--transactions", action="store_true", help="run a transaction on connector 1")
    parser.add_argument("--meter-interval", type=float, default=10, help="seconds between MeterValues")
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--rate", type=float, help="CALLs per second across the fleet (open loop)")
    load.add_argument("--max-rate", action="store_true", help="each sends its next CALL when answered")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--idle", action="store_true",
                        help="stay connected (heartbeats only) for --duration, reconnecting with --reconnect")
    parser.add_argument("--reconnect", action="store_true", help="connect and boot again when a connection ends")
    parser.add_argument("--first", type=int, default=0, help="number of the first charge point (ids PREFIX-N)")
    parser.add_argument("--status-file", help="with --idle: write what the fleet sees here every second (JSON)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    options = parser.parse_args(argv)
    plan = Plan(url=options.url.rstrip("/"), charge_points=options.charge_points, duration=options.duration,
                prefix=options.prefix, connect_rate=options.connect_rate, heartbeat_interval=options.heartbeat_interval,
                transactions=options.transactions, meter_interval=options.meter_interval, rate=options.rate,
                max_rate=options.max_rate, first=options.first, reconnect=options.reconnect,
                status_file=options.status_file)
    if options.idle:
        raise_open_file_limit()
        summary = _run_loop(run_idle(plan))
    else:
        summary = run_processes(plan, options.processes)
    if options.json:
        print(json.dumps(summary))
        return
    width = max(map(len, summary))
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
    sys.exit(0 if summary["connect_failures"] == 0 and summary["timeouts"] == 0 else 1)


if __name__ == "__main__":
    main()
