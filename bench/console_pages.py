"""How long the console's pages take with a fleet in the database (make bench-console).

Fills a fresh database (SQLite or PostgreSQL) with N charge points (3 connectors each), M transactions
with meter values on some, and log lines; starts the real server (gunicorn, one gevent worker, as
`make run` does), signs in, and asks for each page several times over localhost (so the time is the
server's). A page that does not answer 200 fails the run instead of printing a number.

    python bench/console_pages.py --backend sqlite --charge-points 20000 --transactions 100000
"""
import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import create_engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.benchmark import PYTHON, ROOT, _database, free_port, pinned, SERVER_CORE, wait_for_port  # noqa: E402
from app.models import ChargePoint, Connector, MeterValue, SystemLog, Transaction  # noqa: E402

BATCH = 5000
STATUSES = ["Available", "Charging", "Available", "Preparing", "Faulted", "Unavailable", "SuspendedEV"]


def batched(rows, engine, table):
    with engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(table), rows[start:start + BATCH])


def fill(database_url: str, charge_points: int, transactions: int) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    now = datetime.now(timezone.utc)
    ids = [f"CP{n:06d}" for n in range(charge_points)]
    batched([{"id": cp, "vendor": ["ACME", "Volt", "Ampere"][n % 3], "model": f"M{n % 17}", "firmware_version": "1.2.3",
              "registration_status": "Accepted", "created_at": now, "updated_at": now, "last_heartbeat": now,
              "connected_at": now - timedelta(hours=1), "disconnected_at": None if n % 4 else now}
             for n, cp in enumerate(ids)], engine, ChargePoint.__table__)
    batched([{"charge_point_id": cp, "connector_id": c, "status": STATUSES[(n + c) % len(STATUSES)],
              "error_code": "NoError", "status_timestamp": now, "updated_at": now}
             for n, cp in enumerate(ids) for c in (0, 1, 2)], engine, Connector.__table__)
    rows = []
    for n in range(transactions):
        start = now - timedelta(seconds=n * 30 * 86400 // max(transactions, 1) + 60)  # over 30 days
        running = n < charge_points // 10
        rows.append({"id": n + 1, "charge_point_id": ids[n % charge_points], "connector_id": 1 + n % 2,
                     "id_tag": f"TAG{n % 5000:05d}", "id_tag_status": "Accepted", "start_timestamp": start,
                     "meter_start": 0, "stop_timestamp": None if running else start + timedelta(minutes=45),
                     "meter_stop": None if running else 5000 + n % 20000, "stopped_by": None if running else "ChargePoint",
                     "stop_reason": None if running else "Local", "created_at": now, "updated_at": now})
    batched(rows, engine, Transaction.__table__)
    samples = [{"charge_point_id": rows[t]["charge_point_id"], "connector_id": rows[t]["connector_id"],
                "transaction_id": t + 1, "timestamp": rows[t]["start_timestamp"] + timedelta(minutes=m),
                "value": str(m * 250), "context": "Sample.Periodic", "format": "Raw",
                "measurand": "Energy.Active.Import.Register", "phase": "", "location": "Outlet", "unit": "Wh"}
               for t in range(0, min(transactions, 2000)) for m in range(20)]
    batched(samples, engine, MeterValue.__table__)
    batched([{"timestamp": now - timedelta(seconds=n), "level": ["INFO", "WARNING", "ERROR"][n % 3],
              "charge_point_id": ids[n % charge_points], "event": "bench", "message": f"line {n}"}
             for n in range(50000)], engine, SystemLog.__table__)
    if engine.dialect.name == "postgresql":  # as autovacuum would soon: plans from real statistics
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def start(database_url: str, workdir: Path):
    websocket_port, api_port = free_port(), free_port()
    environment = {"PATH": "/usr/bin:/bin", "FLASK_APP": "wsgi", "DATABASE_URL": database_url,
                   "OCPP_HOST": "127.0.0.1", "OCPP_WEBSOCKET_PORT": str(websocket_port),
                   "OCPP_API_PORT": str(api_port), "BACKGROUND_JOBS": "false", "LOG_LEVEL": "WARNING",
                   "BACKUP_DIR": str(workdir / "backups")}
    subprocess.run([PYTHON, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=environment, check=True, capture_output=True)
    return environment, api_port


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--charge-points", type=int, default=20000)
    parser.add_argument("--transactions", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=5, help="requests per page")
    options = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
    database_url, cleanup = _database(options.backend, workdir)
    process = None
    try:
        environment, api_port = start(database_url, workdir)
        began = time.monotonic()
        fill(database_url, options.charge_points, options.transactions)
        print(f"filled {options.charge_points} charge points, {options.transactions} transactions in "
              f"{time.monotonic() - began:.0f} s", flush=True)
        subprocess.run([PYTHON, "-m", "flask", "user", "create", "bench", "--role", "admin", "--password",
                        "bench-password"], cwd=ROOT, env=environment, check=True, capture_output=True)
        log = open(workdir / "server.log", "wb")
        process = subprocess.Popen([PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT, preexec_fn=pinned(SERVER_CORE))
        wait_for_port(api_port)
        figures = measure(f"http://127.0.0.1:{api_port}", options)
        print(report(figures, options))
        if any(status != 200 for *_, status in figures.values()):
            sys.exit("a page did not answer 200: no figures")
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
        if cleanup:
            cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


PAGES = {
    "overview": "/",
    "charge points": "/charge-points",
    "charge points, search": "/charge-points?q=acme&status=Faulted",
    "charge points, page 300": "/charge-points?offset=15000",
    "charge point": "/charge-points/CP012345",
    "transactions": "/transactions",
    "transactions, filtered": "/transactions?chargePointId=CP000042&state=complete",
    "transaction": "/transactions/1",
    "system log": "/logs?level=WARNING",
    "idTags": "/id-tags",
}


def measure(base: str, options) -> dict:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(base + "/sign-in").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    opener.open(base + "/sign-in", urllib.parse.urlencode({"csrf_token": token, "name": "bench",
                                                           "password": "bench-password", "next": "/id-tags"}).encode())
    figures = {}
    for name, path in PAGES.items():
        times, status = [], 200
        for _ in range(options.repeat + 1):  # the first meets cold caches: shown apart
            began = time.perf_counter()
            response = opener.open(base + path)
            response.read()
            times.append((time.perf_counter() - began) * 1000)
            status = response.status if response.status != 200 else status
        figures[name] = (times[0], statistics.median(times[1:]), max(times[1:]), status)
    return figures


def report(figures: dict, options) -> str:
    lines = [f"Console pages, {options.backend}, {options.charge_points:,} charge points, "
             f"{options.transactions:,} transactions; ms over localhost: the first request (cold caches), then "
             f"median and worst of {options.repeat} more:"]
    lines += [f"  {name:26} {first:7.1f} {median:7.1f} {worst:7.1f}" for name, (first, median, worst, _) in figures.items()]
    lines.append(f"command: python bench/console_pages.py --backend {options.backend} --charge-points "
                 f"{options.charge_points} --transactions {options.transactions}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
