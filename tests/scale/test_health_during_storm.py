"""/healthz and /readyz during a storm: a thousand charge points connect to one gevent worker at once
(WebSocket handshake, BootNotification, a StatusNotification per connector, Heartbeat), and every health
and readiness answer, on both ports, comes within a second: they do not queue behind the charge points.

The storm comes from bench/fleet.py in processes of its own, and the answers are timed from a thread of
this process, so that the load generator's own delays do not count against the server.
"""
import http.client
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from tests.charge_points import new_id
from tests.conftest import BACKENDS, running_server
from tests.servers import ROOT

STORM = 1000
FLEET_PROCESSES = 2  # one asyncio loop opening a thousand connections would spread them over seconds
HEARTBEAT_INTERVAL = 3  # each charge point heartbeats within this many seconds of its boot
BOUND_SECONDS = 1.0


@dataclass
class Answer:
    path: str
    port: int
    status: int
    seconds: float
    at: float  # time.monotonic() when asked


class HealthPoller:
    """Asks /healthz and /readyz in turn, on both ports, over a new connection each time (as a load
    balancer does), from a thread of its own, until stopped."""

    def __init__(self, server):
        self.targets = [(path, port) for port in (server.api_port, server.websocket_port)
                        for path in ("/healthz", "/readyz")]
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join(30)

    def _poll(self) -> None:
        n = 0
        while not self._stop.is_set():
            path, port = self.targets[n % len(self.targets)]
            n += 1
            self.answers.append(ask(path, port))
            time.sleep(0.05)


def ask(path: str, port: int) -> Answer:
    """The answer; status 0 when the request failed (refused, reset, no answer within 30 s)."""
    at, began = time.monotonic(), time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        connection.close()
    return Answer(path, port, status, time.perf_counter() - began, at)


def storm(server, directory, timeout: float = 120) -> dict:
    """STORM charge points connecting at once, until each has booted, reported its connectors and sent a
    Heartbeat; what the fleet saw, summed."""
    prefix = new_id("STORM")
    share = STORM // FLEET_PROCESSES
    status_files = [directory / f"fleet-{n}.json" for n in range(FLEET_PROCESSES)]
    processes = [subprocess.Popen(
        [sys.executable, "bench/fleet.py", "--url", server.ws_url, "--idle", "--charge-points", str(share),
         "--first", str(n * share), "--prefix", prefix, "--connect-rate", "1000000", "--duration", str(timeout),
         "--heartbeat-interval", str(HEARTBEAT_INTERVAL), "--status-file", str(status_file)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n, status_file in enumerate(status_files)]
    try:
        deadline = time.monotonic() + timeout
        while True:
            seen = fleet_status(status_files)
            # (the fleet counts heartbeats from the moment all of its charge points are booted)
            if seen["booted"] == STORM and seen["heartbeats"] >= STORM:
                return seen
            assert time.monotonic() < deadline, f"the storm did not boot and heartbeat within {timeout} s: {seen}"
            assert all(process.poll() is None for process in processes), f"a fleet process ended: {seen}"
            time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def fleet_status(status_files) -> dict:
    total = {"booted": 0, "heartbeats": 0, "call_errors": 0, "timeouts": 0, "refused": 0, "connect_failures": 0}
    for path in status_files:
        try:
            seen = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # not written yet
        for key in total:
            total[key] += seen.get(key) or 0
    return total


@pytest.mark.parametrize("backend", BACKENDS)
def test_health_and_readiness_answer_within_a_second_during_a_storm(backend, tmp_path_factory, tmp_path):
    with running_server(backend, tmp_path_factory, OCPP_MAX_CONNECTIONS=STORM + 500, OCPP_RATE_LIMIT=1000,
                        LOG_LEVEL="WARNING") as server:
        already = len(server.log())  # (start-up's own reports are not the storm's)
        with HealthPoller(server) as poller:
            began = time.monotonic()
            seen = storm(server, tmp_path)
            lasted = time.monotonic() - began
        log = server.log()[already:]
    assert seen["call_errors"] == 0 and seen["timeouts"] == 0 and seen["connect_failures"] == 0, seen
    answers = poller.answers
    for path in ("/healthz", "/readyz"):
        assert sum(answer.path == path for answer in answers) >= 10, f"too few {path} asked during the storm"
    slowest = {path: round(max(answer.seconds for answer in answers if answer.path == path), 3)
               for path in ("/healthz", "/readyz")}
    print(f"{backend}: {len(answers)} answers during a {lasted:.1f} s storm; slowest {slowest}")  # (with -s)
    late = [(round(answer.at - began, 1), answer) for answer in answers
            if answer.seconds >= BOUND_SECONDS or answer.status != 200]
    assert not late, f"{len(late)} of {len(answers)} answers late or not 200 during a {lasted:.1f} s storm: {late[:10]}"
    assert "appears to be blocked" not in log, "gevent's monitor thread saw the hub blocked (stacks in the log)"
