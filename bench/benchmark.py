"""The benchmark (make bench): what one machine holds, with the server on one core and the load on the other.

For each database it starts the real server (migrations, then gunicorn exactly as `make run` does,
one gevent worker, gevent's monitor thread on), and measures with the fleet simulator (bench/fleet.py):

load   1. connections held: N idle charge points that booted (BootNotification Accepted, connectors
          reported) and answer their heartbeats, as the fleet counts them; how long until all booted;
          the worker's memory per connection (its RSS with N connected, minus before, over N);
       2. throughput: OCPP messages per second handled with persistence, closed loop (each charge point
          sends its next CALL once answered), while the N idle ones stay connected;
       3. latency: p50/p95/p99 round trip at half of that rate, open loop.
storm  N charge points connected and booted; the server stopped with SIGTERM, then with SIGKILL, and
       started again; every charge point reconnects at once (no jitter): seconds from the new server's
       start until every one is booted again and its StatusNotifications are stored (the last boot, as
       the load generator times it).
hold   N charge points connected at a ramp, heartbeating every 30 s, the periodic jobs running in the
       server process (or with --hold-jobs rq in worker.py beside it, the registry in Redis): heartbeat
       p99, memory per connection, and none marked offline or disconnected.

Then the same load (and the storm, after SIGKILL) against bench/baseline_csms.py (the
`ocpp` package on asyncio `websockets`, no database). The run fails (exit status 1, saying why) when a
phase moves no messages or sees CALLERRORs or timeouts, the idle fleet does not stay booted, gunicorn
restarts the worker, or the monitor thread reports the hub blocked for 100 ms.
`python bench/benchmark.py --help` lists the knobs.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from redis import Redis

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


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used: a figure that another load on the machine
    changes little, unlike the seconds a phase took."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class BenchmarkFailed(RuntimeError):
    """The run cannot give a figure: it says why."""


@dataclass
class Target:
    """Something the fleet loads: our server on a database, or the baseline."""
    name: str
    ws_url: str
    process: subprocess.Popen
    measured_pid: int  # the process whose memory counts (gunicorn's worker; the baseline itself)
    cleanup: object = None
    log_path: Path | None = None
    database_url: str | None = None
    restart: object = None  # (kill signal) -> a new Target on the same database and ports
    environment: dict | None = None

    def stop(self, drop: bool = True) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.cleanup and drop:
            self.cleanup()

    def problems(self) -> list[str]:
        """What in the server's log makes the run's figures worthless (gevent's monitor thread saw the hub
        blocked; gunicorn restarted the worker); and a worker that is not the one measured."""
        if self.log_path is None:
            return []
        log = self.log_path.read_text(errors="replace")
        found = []
        blocked = log.count("appears to be blocked")
        if blocked:
            line = next(line for line in log.splitlines() if "appears to be blocked" in line)
            found.append(f"gevent's monitor thread reported the hub blocked {blocked} times ({line.strip()[:150]}; "
                         f"stacks in {self.log_path})")
        for marker in ("WORKER TIMEOUT", "Worker exited", "was sent SIGKILL", "Worker failed to boot"):
            if marker in log:
                found.append(f"gunicorn: {marker} (see {self.log_path})")
        if self.process.poll() is None and self.measured_pid not in children(self.process.pid):
            found.append(f"the worker {self.measured_pid} was replaced (a worker restart)")
        return found


def server_environment(backend: str, connections: int, database_url: str, websocket_port: int, api_port: int,
                       jobs: bool, heartbeat_interval: int, redis_url: str | None = None) -> dict:
    environment = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": database_url, "OCPP_HOST": "127.0.0.1",
                   "OCPP_WEBSOCKET_PORT": str(websocket_port), "OCPP_API_PORT": str(api_port),
                   "BACKGROUND_JOBS": "true" if jobs else "false", "LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": "1",
                   "OCPP_MAX_CONNECTIONS": str(connections + 500), "OCPP_RATE_LIMIT": "100000",
                   "OCPP_HEARTBEAT_INTERVAL": str(heartbeat_interval),
                   "BACKUP_DIR": "/tmp/ocpp-bench-backups", "BACKUP_INTERVAL": "86400",
                   # gevent's monitor thread: any greenlet holding the hub for 100 ms is reported (and fails the run)
                   "GEVENT_MONITOR_THREAD_ENABLE": "true", "GEVENT_MAX_BLOCKING_TIME": "0.1"}
    for name in ("REDIS_URL", "PORT", "API_KEYS"):
        environment.pop(name, None)
    if redis_url:  # the periodic jobs in worker.py, the registry in Redis
        environment["REDIS_URL"] = redis_url
    return environment


def start_server(backend: str, connections: int, workdir: Path, jobs: bool = False, heartbeat_interval: int = 60,
                 _reuse: tuple | None = None, redis_url: str | None = None) -> Target:
    if _reuse is None:
        database_url, cleanup = _database(backend, workdir)
        websocket_port, api_port = free_port(), free_port()
    else:
        database_url, cleanup, websocket_port, api_port = _reuse
    environment = server_environment(backend, connections, database_url, websocket_port, api_port, jobs,
                                     heartbeat_interval, redis_url)
    if _reuse is None:
        subprocess.run([PYTHON, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=environment, check=True,
                       capture_output=True)
    log_path = workdir / f"server-{backend}-{int(time.time() * 1000)}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=environment,
                               stdout=log, stderr=subprocess.STDOUT, preexec_fn=pinned(SERVER_CORE),
                               start_new_session=True)
    wait_for_port(websocket_port)
    wait_for_port(api_port)
    worker = _worker_of(process)
    target = Target(f"ours ({backend})", f"ws://127.0.0.1:{websocket_port}", process, worker, cleanup, log_path,
                    database_url, environment=environment)
    target.restart = lambda: start_server(backend, connections, workdir, jobs, heartbeat_interval,
                                          (database_url, cleanup, websocket_port, api_port))
    return target


def _worker_of(process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = children(process.pid)
        if found:
            return found[0]
        time.sleep(0.1)
    raise BenchmarkFailed("gunicorn started no worker")


def _database(backend: str, workdir: Path):
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    name = f"ocpp_bench_{os.getpid()}_{int(time.time())}"
    _psql(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}", lambda: _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psql(*statements: str) -> None:
    for statement in statements:
        subprocess.run(["psql", POSTGRES_ADMIN, "-q", "-c", statement], check=True, capture_output=True)


def database_scalar(database_url: str, sql: str):
    """One value from the server's database, read beside it."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split("///", 1)[1], timeout=30) as connection:
            return connection.execute(sql).fetchone()[0]
    url = database_url.replace("postgresql+psycopg2://", "postgresql://")
    return subprocess.run(["psql", url, "-tA", "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


def start_baseline(workdir: Path, port: int | None = None) -> Target:
    port = port or free_port()
    log = open(workdir / "baseline.log", "ab")
    process = subprocess.Popen([PYTHON, "bench/baseline_csms.py", "--port", str(port)], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, preexec_fn=pinned(SERVER_CORE), start_new_session=True)
    wait_for_port(port)
    return Target("baseline (ocpp + websockets, no database)", f"ws://127.0.0.1:{port}", process, process.pid)


def fleet(url: str, *arguments: str):
    command = [PYTHON, "bench/fleet.py", "--url", url, "--json", *arguments]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, preexec_fn=pinned(LOAD_CORE))
    if not result.stdout.strip():
        raise BenchmarkFailed(f"the fleet failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


FILES_PER_FLEET_PROCESS = 19_000  # a process here may open at most 20,000 files


class IdleFleet:
    """Charge points that stay connected and heartbeat (fleet.py --idle), split over processes of at most
    19,000 connections each; what they see, summed from their status files."""

    def __init__(self, url: str, count: int, workdir: Path, prefix: str, connect_rate: float,
                 heartbeat_interval: float, reconnect: bool = False, duration: float = 100000):
        self.count = count
        shares = max(1, -(-count // FILES_PER_FLEET_PROCESS))
        self.status_files = [workdir / f"{prefix}-{n}.json" for n in range(shares)]
        for path in self.status_files:  # an earlier fleet's (another backend's storm) would be read as this one's
            path.unlink(missing_ok=True)
        self.processes, self.error_paths = [], []
        first = 0
        for n, status_file in enumerate(self.status_files):
            share = count // shares + (1 if n < count % shares else 0)
            command = [PYTHON, "bench/fleet.py", "--url", url, "--json", "--idle", "--charge-points", str(share),
                       "--first", str(first), "--prefix", prefix, "--duration", str(duration),
                       "--connect-rate", str(connect_rate / shares), "--heartbeat-interval", str(heartbeat_interval),
                       "--status-file", str(status_file)] + (["--reconnect"] if reconnect else [])
            self.error_paths.append(workdir / f"{prefix}-{n}.err")
            with open(self.error_paths[-1], "wb") as errors:
                self.processes.append(subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
                                                       preexec_fn=pinned(LOAD_CORE)))
            first += share

    def status(self) -> dict:
        statuses = []
        for path in self.status_files:
            try:
                statuses.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                statuses.append({})
        total = {key: sum(status.get(key) or 0 for status in statuses)
                 for key in ("booted", "boots", "refused", "pending", "heartbeats", "call_errors", "timeouts",
                             "disconnects", "connect_failures")}
        total["failure_kinds"] = {}
        for status in statuses:
            for kind, count in (status.get("failure_kinds") or {}).items():
                total["failure_kinds"][kind] = total["failure_kinds"].get(kind, 0) + count
        total["min_boot_count"] = min((status.get("min_boot_count", 0) for status in statuses), default=0)
        total["last_boot_at"] = max((status.get("last_boot_at") or 0 for status in statuses), default=0)
        total["heartbeat_p99_ms"] = max((status.get("heartbeat_p99_ms") or 0 for status in statuses), default=0)
        total["elapsed"] = max((status.get("elapsed") or 0 for status in statuses), default=0)
        return total

    def wait(self, condition, timeout: float, what: str, target: Target | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if condition(status):
                return status
            if any(process.poll() is not None for process in self.processes):
                errors = " | ".join(path.read_text(errors="replace")[-1500:] for path in self.error_paths)
                raise BenchmarkFailed(f"a fleet process ended while waiting for {what}: {status}; its errors: {errors}")
            if target is not None and target.process.poll() is not None:
                raise BenchmarkFailed(f"the server exited while waiting for {what}; see {target.log_path}")
            time.sleep(0.5)
        raise BenchmarkFailed(f"not within {timeout:.0f} s: {what}; the fleet saw {self.status()}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def measure(target: Target, options, workdir: Path) -> dict:
    """Idle fleet held (booted and answering), then throughput and latency beside it."""
    time.sleep(2)
    before = rss_kib(target.measured_pid)
    began = time.monotonic()
    idle = IdleFleet(target.ws_url, options.connections, workdir, "IDLE", options.connect_rate, 60)
    try:
        held = idle.wait(lambda status: status["booted"] >= options.connections,
                         max(120, options.connections / options.connect_rate * 4), "the idle fleet booted",
                         target)
        booted_in = time.monotonic() - began
        time.sleep(5)
        with_idle = rss_kib(target.measured_pid)
        throughput = fleet(target.ws_url, "--charge-points", str(options.busy), "--duration", str(options.duration),
                           "--max-rate", "--prefix", "BUSY")
        _require_phase("throughput (closed loop)", throughput)
        rate = throughput["rate_per_second"]
        latency = fleet(target.ws_url, "--charge-points", str(options.busy), "--duration", str(options.duration),
                        "--rate", str(round(rate / 2)), "--prefix", "PACED")
        _require_phase("latency (half rate)", latency)
        held = idle.status()
        if held["booted"] < options.connections or held["timeouts"] or held["call_errors"]:
            raise BenchmarkFailed(f"the idle fleet did not stay booted and answered throughout: {held}")
    finally:
        idle.stop()
    _require_healthy(target)
    return {"connections": held["booted"], "booted_in_seconds": round(booted_in, 1),
            "kib_per_connection": round((with_idle - before) / max(held["booted"], 1), 1),
            "rss_mib_with_connections": round(with_idle / 1024, 1), "messages_per_second": rate,
            "max_rate_p99_ms": throughput["p99_ms"], "half_rate": round(rate / 2),
            "p50_ms": latency["p50_ms"], "p95_ms": latency["p95_ms"], "p99_ms": latency["p99_ms"],
            "errors": throughput["call_errors"] + latency["call_errors"] + throughput["timeouts"] + latency["timeouts"]}


def _require_phase(name: str, summary: dict) -> None:
    if not summary.get("answered"):
        raise BenchmarkFailed(f"the {name} phase moved no messages: {summary}")
    if summary["call_errors"] or summary["timeouts"] or summary["connect_failures"]:
        raise BenchmarkFailed(f"the {name} phase saw {summary['call_errors']} CALLERRORs, {summary['timeouts']} "
                              f"timeouts and {summary['connect_failures']} failed connections: {summary}")


def _require_healthy(target: Target) -> None:
    problems = target.problems()
    if problems:
        raise BenchmarkFailed("; ".join(problems))


def storm(backend: str, count: int, options, workdir: Path) -> dict:
    """count charge points connected and booted; the server restarted (SIGTERM, then a new process; then
    SIGKILL and a new process); every charge point reconnects at once, without jitter. Seconds from the
    new process's start until every one is booted again and its StatusNotifications are stored."""
    target = start_server(backend, count, workdir)
    idle = IdleFleet(target.ws_url, count, workdir, "STORM", options.connect_rate, 60, reconnect=True)
    figures = {}
    try:
        idle.wait(lambda status: status["booted"] >= count, max(120, count / options.connect_rate * 4),
                  "the storm fleet booted", target)
        for round_, kill in enumerate(options.storm_signals, start=2):
            _require_healthy(target)
            before = idle.status()  # what this round's figures are counted from
            failed_before = before["failure_kinds"]
            stopped = time.monotonic()
            if kill == "SIGTERM":
                target.process.send_signal(signal.SIGTERM)
            else:
                os.killpg(target.process.pid, signal.SIGKILL)
            target.process.wait(120)
            stopped_in = time.monotonic() - stopped
            if kill == "SIGTERM":
                _require_healthy(target)  # its graceful shutdown included
            since = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
            started = time.monotonic()  # the new server's start (gunicorn's, then its worker's)
            target = target.restart()
            done = idle.wait(lambda status: status["booted"] >= count and status["min_boot_count"] >= round_, 300,
                             f"every charge point booted again after {kill}", target)
            # Until the last boot (its StatusNotifications answered, so stored), as the fleet timed it.
            seconds = done["last_boot_at"] - started
            cpu = cpu_seconds(target.measured_pid)  # (its start-up included: a second or so)
            stored = int(database_scalar(target.database_url, "SELECT count(DISTINCT charge_point_id) FROM "
                                         f"connector_status_changes WHERE received_at >= '{since}'"))
            if stored < count:
                raise BenchmarkFailed(f"after {kill}: {stored} of {count} charge points' StatusNotifications stored")
            offline = int(database_scalar(target.database_url,
                                          "SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout'"))
            status = idle.status()
            figures[kill] = {"seconds": round(seconds, 1), "per_second": round(count / seconds),
                             "cpu_ms_per_boot": round(cpu * 1000 / count, 2),
                             "stopped_in": round(stopped_in, 1),
                             "refused_503": status["refused"] - before["refused"],
                             "pending": status["pending"] - before["pending"], "marked_offline": offline,
                             "failed_attempts": {kind: count - failed_before.get(kind, 0) for kind, count
                                                 in sorted(status["failure_kinds"].items())}}
            print(f"storm {backend} {count} {kill}: {figures[kill]}", flush=True)
        status = idle.status()
        if status["timeouts"] or status["call_errors"]:
            raise BenchmarkFailed(f"the storm fleet saw timeouts or CALLERRORs: {status}")
        _require_healthy(target)
    finally:
        idle.stop()
        target.stop()
    return figures


def baseline_storm(count: int, options, workdir: Path) -> dict:
    """The baseline's storm, as ours: count charge points connected and booted; the baseline killed
    (SIGKILL: it has no graceful shutdown) and started again; every one reconnects at once. Seconds from
    the new process's start until every one is booted again."""
    target = start_baseline(workdir)
    port = int(target.ws_url.rsplit(":", 1)[1])
    idle = IdleFleet(target.ws_url, count, workdir, "BASE", options.connect_rate, 60, reconnect=True)
    try:
        idle.wait(lambda status: status["booted"] >= count, max(120, count / options.connect_rate * 4),
                  "the baseline's fleet booted", target)
        os.killpg(target.process.pid, signal.SIGKILL)
        target.process.wait(120)
        started = time.monotonic()
        target = start_baseline(workdir, port)
        done = idle.wait(lambda status: status["booted"] >= count and status["min_boot_count"] >= 2, 300,
                         "the baseline's fleet booted again", target)
    finally:
        idle.stop()
        target.stop()
    seconds = done["last_boot_at"] - started
    return {"seconds": round(seconds, 1), "per_second": round(count / seconds)}


def hold(backend: str, count: int, options, workdir: Path) -> dict:
    """count charge points held at a ramp, heartbeating every 30 s, with the periodic jobs running in the
    server process, for options.hold_seconds after all booted."""
    redis_url = None
    if options.hold_jobs == "rq":
        redis_url = options.redis_url
        Redis.from_url(redis_url).flushdb()  # (a scratch database of Redis: the registry starts empty)
    target = start_server(backend, count, workdir, jobs=True, heartbeat_interval=30, redis_url=redis_url)
    rq_worker = None
    if redis_url:
        rq_log = open(workdir / f"worker-{backend}-{int(time.time() * 1000)}.log", "wb")
        rq_worker = subprocess.Popen([PYTHON, "worker.py"], cwd=ROOT, env=target.environment, stdout=rq_log,
                                     stderr=subprocess.STDOUT, preexec_fn=pinned(SERVER_CORE), start_new_session=True)
    try:
        time.sleep(2)
        before = rss_kib(target.measured_pid)
        began = time.monotonic()
        idle = IdleFleet(target.ws_url, count, workdir, "HOLD", options.hold_rate, 30)
        try:
            idle.wait(lambda status: status["booted"] >= count, count / options.hold_rate * 4 + 60,
                      "the held fleet booted", target)
            booted_in = time.monotonic() - began
            time.sleep(options.hold_seconds)
            status = idle.status()
            memory = rss_kib(target.measured_pid)
        finally:
            idle.stop()
        offline = int(database_scalar(target.database_url,
                                      "SELECT count(*) FROM system_logs WHERE event = 'heartbeat_timeout'"))
        _require_healthy(target)
        if rq_worker is not None and rq_worker.poll() is not None:
            raise BenchmarkFailed(f"worker.py exited with {rq_worker.returncode} during the hold")
        if status["booted"] < count or status["disconnects"] or status["timeouts"] or status["call_errors"] or offline:
            raise BenchmarkFailed(f"the held fleet did not stay: {status}, {offline} marked offline")
        return {"held": status["booted"], "booted_in_seconds": round(booted_in, 1),
                "heartbeats": status["heartbeats"], "heartbeat_p99_ms": status["heartbeat_p99_ms"],
                "kib_per_connection": round((memory - before) / count, 1), "marked_offline": offline,
                "jobs": "worker.py (RQ)" if rq_worker else "in the server process"}
    finally:
        if rq_worker is not None and rq_worker.poll() is None:
            rq_worker.terminate()
            rq_worker.wait(60)
        target.stop()


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
    rows = [("Charge points held (booted, answering)", "connections", "{}"),
            ("Seconds until all booted", "booted_in_seconds", "{}"), ("Server memory per idle connection (KiB)",
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


def storm_report(storms: dict, baseline: dict | None) -> str:
    lines = ["| Storm (all reconnect at once) | Charge points | After SIGTERM | After SIGKILL |", "|---|---|---|---|"]
    for (backend, count), figures in storms.items():
        cells = [f"{figures[kill]['seconds']} s ({figures[kill]['per_second']}/s, "
                 f"{figures[kill]['cpu_ms_per_boot']} ms CPU each; {figures[kill]['refused_503']} "
                 f"503s, {figures[kill]['pending']} Pending, {figures[kill]['marked_offline']} marked offline)"
                 if kill in figures else "not run" for kill in ("SIGTERM", "SIGKILL")]
        lines.append(f"| ours ({backend}) | {count} | " + " | ".join(cells) + " |")
    for count, figures in (baseline or {}).items():
        lines.append(f"| baseline | {count} | | {figures['seconds']} s ({figures['per_second']}/s) |")
    return "\n".join(lines)


def hold_report(holds: dict) -> str:
    lines = ["| Hold (heartbeat 30 s) | Periodic jobs | Held | Seconds to boot all | Heartbeats | Heartbeat p99 | "
             "KiB per connection | Marked offline |", "|---|---|---|---|---|---|---|---|"]
    for (backend, count), figures in holds.items():
        lines.append(f"| ours ({backend}), {count} | {figures['jobs']} | {figures['held']} | {figures['booted_in_seconds']} | "
                     f"{figures['heartbeats']} | {figures['heartbeat_p99_ms']} ms | {figures['kib_per_connection']} | "
                     f"{figures['marked_offline']} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--scenarios", default="load,storm",
                        help="comma-separated: load (idle fleet + throughput + latency), storm, hold")
    parser.add_argument("--connections", type=int, default=10000, help="load: idle charge points held")
    parser.add_argument("--busy", type=int, default=300, help="load: charge points that send the load")
    parser.add_argument("--duration", type=float, default=20, help="load: seconds per load phase")
    parser.add_argument("--connect-rate", type=float, default=500, help="new connections per second")
    parser.add_argument("--storm", type=int, action="append", help="storm: charge points (repeatable; default 2000)")
    parser.add_argument("--storm-signals", type=lambda text: [name.strip() for name in text.split(",")],
                        default=["SIGTERM", "SIGKILL"], help="storm: how the server is stopped, in turn "
                        "(comma-separated, SIGTERM and/or SIGKILL; default SIGTERM,SIGKILL)")
    parser.add_argument("--hold", type=int, default=19000, help="hold: charge points")
    parser.add_argument("--hold-rate", type=float, default=300, help="hold: connections per second of the ramp")
    parser.add_argument("--hold-seconds", type=float, default=150, help="hold: seconds held after all booted")
    parser.add_argument("--hold-jobs", choices=("in-process", "rq"), default="in-process",
                        help="hold: the periodic jobs in the server process, or in worker.py (RQ) beside it")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15",
                        help="hold with --hold-jobs rq: a Redis database the benchmark may empty")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    options = parser.parse_args(argv)
    if not options.storm_signals or set(options.storm_signals) - {"SIGTERM", "SIGKILL"}:
        parser.error("--storm-signals: SIGTERM and/or SIGKILL, comma-separated")
    scenarios = [name.strip() for name in options.scenarios.split(",") if name.strip()]
    backends = ("sqlite", "postgres") if options.backend == "both" else (options.backend,)
    workdir = Path(tempfile.mkdtemp(prefix="ocpp-bench-"))
    results, storms, holds, baseline_storms, sections = {}, {}, {}, {}, []
    print(f"command: {' '.join([Path(sys.argv[0]).name] + (argv or sys.argv[1:]))}", flush=True)
    try:
        for backend in backends:
            if "load" in scenarios:
                target = start_server(backend, options.connections, workdir)
                try:
                    results[backend] = measure(target, options, workdir)
                finally:
                    target.stop()
                print(f"{backend}: {results[backend]}", flush=True)
            for count in (options.storm or [2000]) if "storm" in scenarios else []:
                storms[(backend, count)] = storm(backend, count, options, workdir)
            if "hold" in scenarios:
                holds[(backend, options.hold)] = hold(backend, options.hold, options, workdir)
                print(f"hold {backend}: {holds[(backend, options.hold)]}", flush=True)
        if not options.no_baseline:
            if "load" in scenarios:
                target = start_baseline(workdir)
                try:
                    results["baseline"] = measure(target, options, workdir)
                finally:
                    target.stop()
                print(f"baseline: {results['baseline']}", flush=True)
            for count in (options.storm or [2000]) if "storm" in scenarios else []:
                baseline_storms[count] = baseline_storm(count, options, workdir)
                print(f"baseline storm {count}: {baseline_storms[count]}", flush=True)
    except BenchmarkFailed as failure:
        print(f"BENCHMARK FAILED: {failure}\n(server logs kept in {workdir})", file=sys.stderr, flush=True)
        sys.exit(1)
    shutil.rmtree(workdir, ignore_errors=True)
    if results:
        sections.append(report(results, options))
    if storms:
        sections.append(storm_report(storms, baseline_storms))
    if holds:
        sections.append(hold_report(holds))
    text = "\n\n".join(sections)
    print(text)
    if options.output:
        options.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
