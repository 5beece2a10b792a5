"""Simulated charge points: the `ocpp` package's v16 ChargePoint over the `websockets` client, so that an
implementation we did not write talks to ours. It answers the central system's CALLs as a real charge
point would, with replies, silences and CALLERRORs a test can choose."""
import asyncio
import base64
import json
import os
import struct
import uuid
from urllib.parse import quote, urlsplit
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta, timezone

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

# What a cooperative charge point answers to each central-system-initiated action (call_result fields).
DEFAULT_REPLIES = {
    Action.cancel_reservation: {"status": "Accepted"},
    Action.change_availability: {"status": "Accepted"},
    Action.change_configuration: {"status": "Accepted"},
    Action.clear_cache: {"status": "Accepted"},
    Action.clear_charging_profile: {"status": "Accepted"},
    Action.data_transfer: {"status": "Accepted"},
    Action.get_composite_schedule: {"status": "Accepted"},
    Action.get_configuration: {"configuration_key": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"}]},
    Action.get_diagnostics: {"file_name": "diagnostics-2024.log"},
    Action.get_local_list_version: {"list_version": 0},
    Action.remote_start_transaction: {"status": "Accepted"},
    Action.remote_stop_transaction: {"status": "Accepted"},
    Action.reserve_now: {"status": "Accepted"},
    Action.reset: {"status": "Accepted"},
    Action.send_local_list: {"status": "Accepted"},
    Action.set_charging_profile: {"status": "Accepted"},
    Action.trigger_message: {"status": "Accepted"},
    Action.unlock_connector: {"status": "Unlocked"},
    Action.update_firmware: {},
    # the Security Whitepaper's
    Action.certificate_signed: {"status": "Accepted"},
    Action.delete_certificate: {"status": "Accepted"},
    Action.extended_trigger_message: {"status": "Accepted"},
    Action.get_installed_certificate_ids: {"status": "NotFound"},
    Action.get_log: {"status": "Accepted", "filename": "security-log.tar.gz"},
    Action.install_certificate: {"status": "Accepted"},
    Action.signed_update_firmware: {"status": "Accepted"},
}


class SimulatedChargePoint(ChargePoint):
    def __init__(self, charge_point_id, connection, **kwargs):
        super().__init__(charge_point_id, connection, **kwargs)
        self.received: list[tuple[str, dict]] = []   # the CALLs the central system sent, in order
        self.replies: dict[str, dict] = {}            # per action, the call_result fields to answer
        self.errors: dict[str, Exception] = {}        # per action, an OCPPError to answer with instead
        self.silent: set[str] = set()                 # actions never answered
        self.delays: dict[str, float] = {}            # per action, seconds to wait before answering
        self.gates: dict[str, asyncio.Event] = {}     # per action, an event to wait for before answering
        self.call_received = asyncio.Event()
        self.transactions: dict[int, int] = {}        # connector id -> running transaction id
        self.meter_wh = 0                             # the energy register, as a meter would count it

    async def start_transaction(self, connector_id: int = 1, id_tag: str = "SIMULATED", meter_start: int = 0):
        self.meter_wh = meter_start
        started = await self.call(call.StartTransaction(connector_id=connector_id, id_tag=id_tag,
                                                        meter_start=meter_start, timestamp=timestamp()))
        self.transactions[connector_id] = started.transaction_id
        return started.transaction_id

    @after(Action.trigger_message)
    async def send_triggered_message(self, requested_message, connector_id=None, **_):
        """As a charge point does after accepting TriggerMessage(MeterValues): send them."""
        if requested_message == "MeterValues" and connector_id in self.transactions \
                and self.replies.get(Action.trigger_message, {}).get("status", "Accepted") == "Accepted":
            await self.call(call.MeterValues(
                connector_id=connector_id, transaction_id=self.transactions[connector_id],
                meter_value=[{"timestamp": timestamp(), "sampledValue": [{"value": str(self.meter_wh),
                                                                          "context": "Trigger"}]}]))

    async def wait_for_call(self, action: str, timeout: float = 20) -> dict:
        """The payload of the first CALL of `action` the central system sent, waiting for it."""
        async def first():
            while True:
                for received_action, payload in self.received:
                    if received_action == action:
                        return payload
                self.call_received.clear()
                await self.call_received.wait()
        return await asyncio.wait_for(first(), timeout)


def _answering(action: str):
    async def handler(self, **payload):
        self.received.append((action, payload))
        self.call_received.set()
        if action in self.silent:
            await asyncio.sleep(3600)
        await asyncio.sleep(self.delays.get(action, 0))
        if action in self.gates:
            await self.gates[action].wait()
        if action in self.errors:
            raise self.errors[action]
        fields = self.replies.get(action, DEFAULT_REPLIES[action])
        return getattr(call_result, action)(**fields)
    handler.__name__ = f"on_{action}"
    return on(action)(handler)


for _action in DEFAULT_REPLIES:
    setattr(SimulatedChargePoint, f"on_{_action}", _answering(_action))


# How long a handshake or an answer may take before a test fails: generous, since the suite must pass on
# a machine whose cores are busy with other work (a timeout only ever decides how long a failure takes).
SLOW_MACHINE_SECONDS = 30


def new_id(prefix: str = "CP") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def timestamp(offset_seconds: float = 0) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@asynccontextmanager
async def connected(server, charge_point_id: str | None = None, path: str = "", **options):
    """A simulated charge point connected to `server` (a RunningServer, or its ws:// URL) for the block."""
    charge_point_id = charge_point_id or new_id()
    url = server if isinstance(server, str) else server.ws_url
    options.setdefault("open_timeout", SLOW_MACHINE_SECONDS)
    async with websockets.connect(f"{url}/{path}{quote(charge_point_id, safe='')}", subprotocols=["ocpp1.6"],
                                  **options) as connection:
        charge_point = SimulatedChargePoint(charge_point_id, connection, response_timeout=SLOW_MACHINE_SECONDS)
        task = asyncio.create_task(charge_point.start())
        try:
            yield charge_point
        finally:
            task.cancel()


@asynccontextmanager
async def fleet(server, count: int):
    """`count` simulated charge points connected to `server` for the block."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(connected(server)) for _ in range(count)]


class RawConnection:
    """A WebSocket that sends frames as given and reads the answers, for frames no library would send."""

    def __init__(self, connection, charge_point_id: str):
        self.connection = connection
        self.charge_point_id = charge_point_id

    async def send(self, frame) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def exchange(self, frame, timeout: float = 10):
        await self.send(frame)
        return json.loads(await asyncio.wait_for(self.connection.recv(), timeout))

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.connection.recv(), seconds)
        except asyncio.TimeoutError:
            return True
        return False


@asynccontextmanager
async def raw_connection(server, charge_point_id: str | None = None, **options):
    charge_point_id = charge_point_id or new_id()
    options.setdefault("open_timeout", SLOW_MACHINE_SECONDS)
    async with websockets.connect(f"{server.ws_url}/{charge_point_id}", subprotocols=["ocpp1.6"],
                                  **options) as connection:
        yield RawConnection(connection, charge_point_id)


async def eventually(condition, timeout: float = 20.0) -> None:
    """Wait until condition() is true (for what the server does after it answered); fail after timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        await asyncio.sleep(0.05)


# WebSocket opcodes, for BareWebSocket
PING, PONG, CLOSE, TEXT = 0x9, 0xA, 0x8, 0x1


class BareWebSocket:
    """A WebSocket client on a bare TCP stream, which answers pings only when told to."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server) -> "BareWebSocket":
        address = urlsplit(server.ws_url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(f"GET /{new_id()} HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.split(b"\r\n")[0].split(b" ")[1] == b"101", head
        return cls(reader, writer)

    async def frame(self, timeout: float) -> tuple[int, bytes]:
        head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return head[0] & 0x0F, await self.reader.readexactly(length)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        assert len(payload) < 126
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask +
                          bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload)))

    def close(self) -> None:
        self.writer.close()
