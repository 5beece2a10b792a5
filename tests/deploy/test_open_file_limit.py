"""The open-file limit: raised to the hard limit at start; OCPP_MAX_CONNECTIONS beyond what the process
can open stops start-up with one line naming both numbers."""
import resource
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import ROOT, ScratchDatabase, free_port, server_environment, wait_for_port

HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def lowered_soft_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, HARD))


def gunicorn(environment: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as output:
        return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                                env=environment, stdout=output, stderr=subprocess.STDOUT,
                                preexec_fn=lowered_soft_limit)


def test_the_server_raises_its_open_file_limit_to_the_hard_limit(tmp_path):
    database = ScratchDatabase("sqlite", tmp_path)
    port = free_port()
    environment = server_environment(database.url, OCPP_WEBSOCKET_PORT=port, OCPP_API_PORT=port,
                                     BACKGROUND_JOBS="false", OCPP_MAX_CONNECTIONS=min(1000, HARD - 300))
    server = gunicorn(environment, tmp_path / "server.log")
    try:
        wait_for_port(port, server)
        httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=30)  # answered: the worker is up
        worker = int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
        for pid in (server.pid, worker):
            limits = Path(f"/proc/{pid}/limits").read_text()
            soft = next(line.split()[3] for line in limits.splitlines() if line.startswith("Max open files"))
            assert soft == str(HARD) != "256"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError((tmp_path / "server.log").read_text()) from None


def test_more_connections_than_files_stops_start_up_naming_both(tmp_path):
    database = ScratchDatabase("sqlite", tmp_path)
    wanted = HARD + 1 if HARD != resource.RLIM_INFINITY else 2 ** 40
    environment = server_environment(database.url, OCPP_MAX_CONNECTIONS=wanted, BACKGROUND_JOBS="false")
    started = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=environment,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and f"OCPP_MAX_CONNECTIONS={wanted}" in lines[0] and str(HARD) in lines[0], started.stderr
