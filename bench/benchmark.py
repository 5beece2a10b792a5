"""The benchmark (make bench): what one machine holds, with the server on one core and the load on the other.

For each database it starts the real server (migrations, then gunicorn exactly as `make run` does,
one gevent worker), and measures with the fleet simulator (bench/fleet.py):

1. connections held: N idle charge points that booted and send heartbeats; the worker's memory per
   connection (its RSS with N connected, minus before, over N);
2. throughput: OCPP messages per second handled with persistence, closed loop (each charge point sends
   its next CALL once answered), while the N idle ones stay connected;
3. latency: p50/p95/p99 round trip at half of that rate, open loop.

Then the same against bench/baseline_csms.py (the `ocpp` package on asyncio `websockets`, no database)
and the ratios. `python bench/benchmark.py --help` lists the knobs.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVER_CORE, LOAD_CORE = 0, 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def pinned(core: int):
    """preexec_fn: run on one core, with as many open files as allowed."""
    def prepare():
        cores = os.sched_getaffinity(0)
        if core in cores and len(cores) > 1:
            os.sched_setaffinity(0, {core})
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return prepare


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


@dataclass
class Target:
    """Something the fleet loads: our server on a database, or the baseline."""
    name: str
    ws_url: str
    process: subprocess.Popen
    measured_pid: int  # the process whose memory counts (gunicorn's worker; the baseline itself)
    cleanup: object = None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.cleanup:
            self.cleanup()


def start_server(backend: str, connections: int, workdir: Path) -> Target:
    database_url, cleanup = _database(backend, workdir)
    websocket_port, api_port = free_port(), free_port()
    environment = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": database_url, "OCPP_HOST": "127.0.0.1",
                   "OCPP_WEBSOCKET_PORT": str(websocket_port), "OCPP_API_PORT": str(api_port),
                   "BACKGROUND_JOBS": "false", "LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": "1",
                   "OCPP_MAX_CONNECTIONS": str(connections + 2000), "OCPP_RATE_LIMIT": "100000",
                   "BACKUP_DIR": str(workdir / "backups")}
    for name in ("REDIS_URL", "PORT", "API_KEYS"):
        environment.pop(name, None)
    subprocess.run([PYTHON, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=environment, check=True,
                   capture_output=True)
    log = open(workdir / f"server-{backend}.log", "wb")
    process = subprocess.Popen([PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=environment,
                               stdout=log, stderr=subprocess.STDOUT, preexec_fn=pinned(SERVER_CORE))
    wait_for_port(websocket_port)
    wait_for_port(api_port)
    worker = children(process.pid)[0]
    return Target(f"ours ({backend})", f"ws://127.0.0.1:{websocket_port}", process, worker, cleanup)


def _database(backend: str, workdir: Path):
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    name = f"ocpp_bench_{os.getpid()}"
    _psql(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}", lambda: _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psql(*statements: str) -> None:
    for statement in statements:
        subprocess.run(["psql", POSTGRES_ADMIN, "-q", "-c", statement], check=True, capture_output=True)


def start_baseline(workdir: Path) -> Target:
    port = free_port()
    log = open(workdir / "baseline.log", "wb")
    process = subprocess.Popen([PYTHON, "bench/baseline_csms.py", "--port", str(port)], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, preexec_fn=pinned(SERVER_CORE))
    wait_for_port(port)
    return Target("baseline (ocpp + websockets, no database)", f"ws://127.0.0.1:{port}", process, process.pid)


def fleet(url: str, *arguments: str, background: bool = False):
    command = [PYTHON, "bench/fleet.py", "--url", url, "--json", *arguments]
    if background:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=pinned(LOAD_CORE))
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, preexec_fn=pinned(LOAD_CORE))
    if not result.stdout.strip():
        raise RuntimeError(f"the fleet failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(target: Target, options) -> dict:
    """The three phases against one target; the figures."""
    time.sleep(2)
    before = rss_kib(target.measured_pid)
    idle = fleet(target.ws_url, "--charge-points", str(options.connections), "--duration", "100000",
                 "--connect-rate", str(options.connect_rate), "--prefix", "IDLE", "--heartbeat-interval", "60",
                 background=True)
    try:
        held = _wait_connected(target, options.connections, before)
        with_idle = rss_kib(target.measured_pid)
        throughput = fleet(target.ws_url, "--charge-points", str(options.busy), "--duration", str(options.duration),
                           "--max-rate", "--prefix", "BUSY")
        rate = throughput["rate_per_second"]
        latency = fleet(target.ws_url, "--charge-points", str(options.busy), "--duration", str(options.duration),
                        "--rate", str(round(rate / 2)), "--prefix", "PACED")
    finally:
        idle.terminate()
        idle.wait(60)
    return {"connections": held, "kib_per_connection": round((with_idle - before) / max(held, 1), 1),
            "rss_mib_with_connections": round(with_idle / 1024, 1), "messages_per_second": rate,
            "max_rate_p99_ms": throughput["p99_ms"], "half_rate": round(rate / 2),
            "p50_ms": latency["p50_ms"], "p95_ms": latency["p95_ms"], "p99_ms": latency["p99_ms"],
            "errors": throughput["call_errors"] + latency["call_errors"] + throughput["timeouts"] + latency["timeouts"]}


def _wait_connected(target: Target, wanted: int, rss_before: int) -> int:
    """Wait until the server's memory settles with the idle fleet connected; how many it holds."""
    deadline = time.monotonic() + max(120, wanted / 50)
    last, steady_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(2)
        connected = _established(target)
        if connected != last:
            last, steady_since = connected, time.monotonic()
        elif connected >= wanted or time.monotonic() - steady_since > 10:
            break
    time.sleep(5)  # boots and status notifications done, heartbeats only
    return _established(target)


def _established(target: Target) -> int:
    """Established TCP connections to the target's WebSocket port (from /proc/net/tcp)."""
    port = int(target.ws_url.rsplit(":", 1)[1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
                count += 1
    return count


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "open_files": resource.getrlimit(resource.RLIMIT_NOFILE)[1]}


def report(results: dict, options) -> str:
    names = list(results)
    rows = [("Charge points held", "connections", "{}"), ("Server memory per idle connection (KiB)",
            "kib_per_connection", "{}"), ("Messages/s, closed loop", "messages_per_second", "{:.0f}"),
            ("p99 at that rate (ms)", "max_rate_p99_ms", "{}"), ("Half that rate (messages/s)", "half_rate", "{}"),
            ("p50 at half rate (ms)", "p50_ms", "{}"), ("p95 at half rate (ms)", "p95_ms", "{}"),
            ("p99 at half rate (ms)", "p99_ms", "{}"), ("CALLERRORs and timeouts", "errors", "{}")]
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key, form in rows:
        lines.append(f"| {label} | " + " | ".join(form.format(results[name][key]) for name in names) + " |")
    baseline = results.get("baseline")
    if baseline:
        for name in names:
            if name != "baseline":
                ours = results[name]
                lines.append(f"\nRatio {name} / baseline: throughput {ours['messages_per_second'] / baseline['messages_per_second']:.2f}, "
                             f"p99 at half rate {ours['p99_ms'] / baseline['p99_ms']:.2f}, memory per connection "
                             f"{ours['kib_per_connection'] / baseline['kib_per_connection']:.2f}")
    info = machine()
    lines.append(f"\nMachine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Python {info['python']}, "
                 f"Linux {info['kernel']}, open files {info['open_files']}. Server pinned to core {SERVER_CORE}, load "
                 f"generator to core {LOAD_CORE}. {options.connections} idle charge points (heartbeat 60 s) stay "
                 f"connected while {options.busy} busy ones send MeterValues (3 samples), StatusNotification and "
                 f"Heartbeat (3:1:1), {options.duration:g} s per phase.")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--connections", type=int, default=10000, help="idle charge points held")
    parser.add_argument("--busy", type=int, default=300, help="charge points that send the load")
    parser.add_argument("--duration", type=float, default=20, help="seconds per load phase")
    parser.add_argument("--connect-rate", type=float, default=500, help="new connections per second")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    options = parser.parse_args(argv)
    backends = ("sqlite", "postgres") if options.backend == "both" else (options.backend,)
    workdir = Path(tempfile.mkdtemp(prefix="ocpp-bench-"))
    results = {}
    try:
        for backend in backends:
            target = start_server(backend, options.connections, workdir)
            try:
                results[backend] = measure(target, options)
            finally:
                target.stop()
            print(f"{backend}: {results[backend]}", flush=True)
        if not options.no_baseline:
            target = start_baseline(workdir)
            try:
                results["baseline"] = measure(target, options)
            finally:
                target.stop()
            print(f"baseline: {results['baseline']}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(results, options)
    print(text)
    if options.output:
        options.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
