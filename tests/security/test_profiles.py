"""OCPP security profiles end to end, with real TLS (certificates made here with trustme): right
credentials in, wrong and missing out, all refused alike and logged without the secret."""
import asyncio
import base64
import ssl

import subprocess
import sys

import httpx
import pytest
import trustme
import websockets
from ocpp.v16 import call

from tests.charge_points import SimulatedChargePoint, new_id
from tests.conftest import running_server
from tests.servers import ROOT, server_environment

PASSWORD = "0123456789abcdef-secret"


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def handshake_status(url: str, **options) -> int:
    """101 when the WebSocket opens (a Heartbeat is then answered), else the HTTP status refusing it."""
    try:
        async with websockets.connect(url, subprotocols=["ocpp1.6"], open_timeout=10, **options) as connection:
            charge_point = SimulatedChargePoint(url.rsplit("/", 1)[1], connection)
            task = asyncio.create_task(charge_point.start())
            try:
                assert (await charge_point.call(call.Heartbeat())).current_time
            finally:
                task.cancel()
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


def register(api_url: str, charge_point_id: str, verify=True, **settings) -> None:
    body = {"id": charge_point_id, **settings}
    response = httpx.post(f"{api_url}/api/charge-points", json=body, verify=verify)
    assert response.status_code == 201, response.text
    assert "password" not in response.json() and response.json()["hasPassword"] == ("password" in settings)


def refusals_logged(server) -> list[dict]:
    return server.database.rows("SELECT * FROM system_logs WHERE event = 'authentication_failed'")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = {name: folder / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    server.cert_chain_pems[0].write_to_path(paths["cert"])
    server.private_key_pem.write_to_path(paths["key"])
    return ca, paths


def client_context(ca, certificate=None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if certificate is not None:
        certificate.configure_cert(context)
    return context


@pytest.fixture(scope="module")
def profile_1(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, OCPP_SECURITY_PROFILE=1) as server:
        yield server


async def test_profile_1_basic_auth(profile_1):
    charge_point_id = new_id()
    register(profile_1.api_url, charge_point_id, password=PASSWORD)
    refused_before = len(refusals_logged(profile_1))
    url = f"{profile_1.ws_url}/{charge_point_id}"
    assert await handshake_status(url, additional_headers=basic(charge_point_id, PASSWORD)) == 101
    assert await handshake_status(url, additional_headers=basic(charge_point_id, PASSWORD)) == 101  # remembered
    assert await handshake_status(url, additional_headers=basic(charge_point_id, PASSWORD + "x")) == 401
    assert await handshake_status(url, additional_headers=basic("someone-else", PASSWORD)) == 401
    assert await handshake_status(url) == 401
    unknown = new_id()
    assert await handshake_status(f"{profile_1.ws_url}/{unknown}", additional_headers=basic(unknown, PASSWORD)) == 401
    logged = refusals_logged(profile_1)[refused_before:]
    assert len(logged) == 4 and all(row["level"] == "WARNING" for row in logged)
    everything = " ".join(str(row) for row in profile_1.database.rows("SELECT * FROM system_logs"))
    assert PASSWORD not in everything
    stored = profile_1.database.scalar("SELECT password_hash FROM charge_points WHERE id = :id", id=charge_point_id)
    assert stored.startswith("scrypt:") and PASSWORD not in stored


async def test_a_new_password_replaces_the_old_one(profile_1):
    charge_point_id, new_password = new_id(), "fedcba9876543210-rotated"
    register(profile_1.api_url, charge_point_id, password=PASSWORD)
    url = f"{profile_1.ws_url}/{charge_point_id}"
    assert await handshake_status(url, additional_headers=basic(charge_point_id, PASSWORD)) == 101
    response = httpx.put(f"{profile_1.api_url}/api/charge-points/{charge_point_id}/password", json={"password": new_password})
    assert response.status_code == 200
    assert await handshake_status(url, additional_headers=basic(charge_point_id, PASSWORD)) == 401
    assert await handshake_status(url, additional_headers=basic(charge_point_id, new_password)) == 101
    assert httpx.put(f"{profile_1.api_url}/api/charge-points/{charge_point_id}/password",
                     json={"password": "short"}).status_code == 400


async def test_a_charge_point_can_need_more_than_the_server_default(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory) as server:  # profile 0 by default
        charge_point_id = new_id()
        register(server.api_url, charge_point_id, securityProfile=1, password=PASSWORD)
        url = f"{server.ws_url}/{charge_point_id}"
        assert await handshake_status(url) == 401
        assert await handshake_status(url, additional_headers=basic(charge_point_id, PASSWORD)) == 101
        assert await handshake_status(f"{server.ws_url}/{new_id()}") == 101


async def test_profile_2_tls_and_basic_auth(certificates, tmp_path_factory):
    ca, paths = certificates
    with running_server("sqlite", tmp_path_factory, OCPP_SECURITY_PROFILE=2, OCPP_USE_TLS="true",
                        OCPP_CERT_FILE=paths["cert"], OCPP_KEY_FILE=paths["key"]) as server:
        wss, https = server.ws_url.replace("ws://", "wss://"), server.api_url.replace("http://", "https://")
        charge_point_id = new_id()
        trusted = ssl.create_default_context(cafile=str(paths["ca"]))
        register(https, charge_point_id, verify=trusted, password=PASSWORD)
        url, tls = f"{wss}/{charge_point_id}", client_context(ca)
        assert await handshake_status(url, ssl=tls, additional_headers=basic(charge_point_id, PASSWORD)) == 101
        assert await handshake_status(url, ssl=tls, additional_headers=basic(charge_point_id, "wrong-password-123")) == 401
        assert await handshake_status(url, ssl=tls) == 401
        with pytest.raises((OSError, websockets.InvalidMessage)):  # plain ws:// to a TLS port
            await handshake_status(f"{server.ws_url}/{charge_point_id}", additional_headers=basic(charge_point_id, PASSWORD))
        assert httpx.get(f"{https}/api/status", verify=trusted).status_code == 200


async def test_profile_3_client_certificates(certificates, tmp_path_factory):
    ca, paths = certificates
    with running_server("sqlite", tmp_path_factory, OCPP_SECURITY_PROFILE=3, OCPP_USE_TLS="true",
                        OCPP_CERT_FILE=paths["cert"], OCPP_KEY_FILE=paths["key"],
                        OCPP_CLIENT_CA_FILE=paths["ca"]) as server:
        wss = server.ws_url.replace("ws://", "wss://")
        charge_point_id = new_id()
        own = ca.issue_cert(common_name=charge_point_id)
        others = ca.issue_cert(common_name="another-charge-point")
        stranger = trustme.CA().issue_cert(common_name=charge_point_id)
        url = f"{wss}/{charge_point_id}"
        assert await handshake_status(url, ssl=client_context(ca, own)) == 101
        assert await handshake_status(url, ssl=client_context(ca, others)) == 401
        assert await handshake_status(url, ssl=client_context(ca)) == 401
        with pytest.raises((ssl.SSLError, OSError, websockets.InvalidMessage)):  # not signed by our CA: TLS fails
            await handshake_status(url, ssl=client_context(ca, stranger))
        reasons = [row["message"] for row in refusals_logged(server)]
        assert any("another-charge-point" in reason for reason in reasons) and any("no client" in r for r in reasons)


def test_tls_without_a_readable_certificate_stops_start_up(tmp_path):
    environment = server_environment(f"sqlite:///{tmp_path / 'x.db'}", OCPP_USE_TLS="true",
                                     OCPP_CERT_FILE=tmp_path / "missing.pem", OCPP_KEY_FILE=tmp_path / "missing-key.pem")
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"configuration error: OCPP_CERT_FILE='{tmp_path / 'missing.pem'}': cannot read it (No such file or directory)"]
