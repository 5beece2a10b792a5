"""Unknown charge points (accept / pending / reject), the registration API, and API keys."""
import subprocess
import sys

import httpx
import pytest
import websockets
from ocpp.exceptions import SecurityError
from ocpp.v16 import call

from tests.charge_points import connected, new_id, raw_connection, timestamp
from tests.conftest import running_server
from tests.servers import ROOT

API_KEY = "test-key-0123456789"


async def test_reject_refuses_unknown_charge_points_until_registered(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, OCPP_UNKNOWN_CHARGE_POINTS="reject") as server:
        charge_point_id = new_id()
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connected(server, charge_point_id):
                pass
        assert refused.value.response.status_code == 404
        assert server.database.scalar("SELECT count(*) FROM charge_points") == 0
        assert httpx.post(f"{server.api_url}/api/charge-points", json={"id": charge_point_id}).status_code == 201
        async with connected(server, charge_point_id) as charge_point:
            assert (await charge_point.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
                    ).status == "Accepted"


async def test_pending_until_an_operator_accepts(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, OCPP_UNKNOWN_CHARGE_POINTS="pending") as server:
        async with raw_connection(server) as charge_point:
            boot = [2, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
            assert (await charge_point.exchange(boot))[2]["status"] == "Pending"
            refused = await charge_point.exchange([2, "h1", "Heartbeat", {}])
            assert refused[:3] == [4, "h1", SecurityError.code]
            response = httpx.patch(f"{server.api_url}/api/charge-points/{charge_point.charge_point_id}",
                                   json={"registrationStatus": "Accepted"})
            assert response.status_code == 200 and response.json()["registrationStatus"] == "Accepted"
            assert (await charge_point.exchange(boot))[2]["status"] == "Accepted"
            assert (await charge_point.exchange([2, "h2", "Heartbeat", {}]))[0] == 3
            httpx.patch(f"{server.api_url}/api/charge-points/{charge_point.charge_point_id}",
                        json={"registrationStatus": "Rejected"})
            assert (await charge_point.exchange(boot))[2]["status"] == "Rejected"


async def test_registration_api(server):
    api, charge_point_id = server.api_url, new_id()
    created = httpx.post(f"{api}/api/charge-points", json={"id": charge_point_id, "securityProfile": 1,
                                                           "password": "a-password-long-enough", "validationMode": "lenient"})
    assert created.status_code == 201
    assert (created.json()["securityProfile"], created.json()["hasPassword"], created.json()["validationMode"]) == \
        (1, True, "lenient")
    assert httpx.post(f"{api}/api/charge-points", json={"id": charge_point_id}).status_code == 409
    for bad in ({"id": "x" * 49}, {"id": "tab\there"}, {"id": "ok", "securityProfile": 4}, {"id": "ok", "password": "short"},
                {"id": "ok", "registrationStatus": "Maybe"}):
        response = httpx.post(f"{api}/api/charge-points", json=bad)
        assert response.status_code == 400, bad
    changed = httpx.patch(f"{api}/api/charge-points/{charge_point_id}", json={"securityProfile": None})
    assert changed.status_code == 200 and changed.json()["securityProfile"] is None
    assert httpx.delete(f"{api}/api/charge-points/{charge_point_id}/password").status_code == 200
    assert httpx.get(f"{api}/api/charge-points/{charge_point_id}").json()["hasPassword"] is False
    assert httpx.patch(f"{api}/api/charge-points/{new_id()}", json={"securityProfile": 0}).status_code == 404


async def test_deleting_a_charge_point_closes_it_and_keeps_transactions_unless_forced(server):
    async with connected(server) as charge_point:
        await charge_point.call(call.StartTransaction(connector_id=1, id_tag="X", meter_start=0, timestamp=timestamp()))
        refused = httpx.delete(f"{server.api_url}/api/charge-points/{charge_point.id}")
        assert refused.status_code == 409 and refused.json()["details"]["transactions"] == 1
        assert httpx.delete(f"{server.api_url}/api/charge-points/{charge_point.id}", params={"force": "true"}).status_code == 200
        await charge_point._connection.wait_closed()
    db = server.database
    assert db.scalar("SELECT count(*) FROM transactions WHERE charge_point_id = :id", id=charge_point.id) == 0


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory, API_KEYS=f"{API_KEY},second-key-abcdefgh") as server:
        yield server


def test_api_keys_are_required_where_configured(keyed_server):
    url = f"{keyed_server.api_url}/api/status"
    missing = httpx.get(url)
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Basic {API_KEY}"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer second-key-abcdefgh"}).status_code == 200
    assert httpx.get(f"{keyed_server.api_url}/api/openapi.json").status_code == 200  # nothing secret in it
    assert API_KEY not in keyed_server.log()


def test_keys_made_with_the_flask_command(keyed_server):
    def flask(*arguments):
        return subprocess.run([sys.executable, "-m", "flask", "api-key", *arguments], cwd=ROOT,
                              env=keyed_server.environment, capture_output=True, text=True, timeout=60)

    made = flask("create", "billing-system")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    url, headers = f"{keyed_server.api_url}/api/logs", {"Authorization": f"Bearer {key}"}
    assert httpx.get(url, headers=headers).status_code == 200
    assert key not in str(keyed_server.database.rows("SELECT * FROM api_keys"))
    assert flask("list").stdout.split() == ["billing-system"]
    assert flask("create", "billing-system").returncode != 0
    assert flask("revoke", "billing-system").returncode == 0
    assert httpx.get(url, headers=headers).status_code == 401


async def test_the_key_holder_is_recorded_as_the_requester(keyed_server):
    async with connected(keyed_server) as charge_point:
        started = await charge_point.call(call.StartTransaction(connector_id=1, id_tag="X", meter_start=0,
                                                                timestamp=timestamp()))
    response = httpx.post(f"{keyed_server.api_url}/api/admin/close-transaction",
                          json={"transactionId": started.transaction_id}, headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200
    closed = keyed_server.database.rows("SELECT message FROM system_logs WHERE event = 'transaction_closed'")
    assert "closed by API_KEYS #1" in closed[-1]["message"]
