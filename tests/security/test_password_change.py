"""Changing a charge point's password in one operation (POST /api/commands/change-password): the central
system sends ChangeConfiguration(AuthorizationKey) and stores the new password only when the charge point
accepts; the old one is accepted until the new one has been used once. Refused or unanswered: unchanged."""
import httpx
import pytest

from tests.charge_points import connected, new_id
from tests.conftest import running_server
from tests.security.test_profiles import basic, handshake_status, register

OLD, NEW = "0123456789abcdef-old-key", "fedcba9876543210-new-key"


@pytest.fixture(scope="module")
def profile_1(backend, tmp_path_factory):
    with running_server(backend, tmp_path_factory, OCPP_SECURITY_PROFILE=1, OCPP_COMMAND_TIMEOUT=2) as server:
        yield server


async def change_password(server, charge_point_id: str, password: str = NEW) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as api:  # the charge point answers meanwhile
        return await api.post("/api/commands/change-password", json={"chargePointId": charge_point_id,
                                                                      "password": password})


async def statuses(server, charge_point_id: str, *passwords: str) -> list[int]:
    """The handshake's answer for each password in turn (101: connected)."""
    url = f"{server.ws_url}/{charge_point_id}"
    return [await handshake_status(url, additional_headers=basic(charge_point_id, password)) for password in passwords]


async def test_accepted_the_old_password_holds_until_the_new_one_is_used(profile_1):
    charge_point_id = new_id()
    register(profile_1.api_url, charge_point_id, password=OLD)
    async with connected(profile_1, charge_point_id, additional_headers=basic(charge_point_id, OLD)) as charge_point:
        response = await change_password(profile_1, charge_point_id)
        assert charge_point.received == [("ChangeConfiguration", {"key": "AuthorizationKey", "value": NEW})]
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True and "new password is stored" in response.json()["message"]
    # the charge point may reconnect with the old password before it switches: still let in, twice
    assert await statuses(profile_1, charge_point_id, OLD, OLD, NEW) == [101, 101, 101]
    # once it has used the new one, the old one is discarded
    assert await statuses(profile_1, charge_point_id, OLD, NEW) == [401, 101]
    everything = " ".join(str(row) for row in profile_1.database.rows("SELECT * FROM system_logs"))
    assert NEW not in everything and OLD not in everything
    assert profile_1.database.scalar("SELECT value FROM configuration_keys WHERE charge_point_id = :id AND "
                                     "key = 'AuthorizationKey'", id=charge_point_id) == "***"


async def test_a_new_password_right_away_and_a_second_change_before_reconnecting(profile_1):
    charge_point_id, newest = new_id(), "0000111122223333-newest"
    register(profile_1.api_url, charge_point_id, password=OLD)
    async with connected(profile_1, charge_point_id, additional_headers=basic(charge_point_id, OLD)):
        assert (await change_password(profile_1, charge_point_id)).json()["success"] is True
        assert (await change_password(profile_1, charge_point_id, newest)).json()["success"] is True
    # the charge point holds the newest; the one before it stays valid until then, the oldest is gone
    assert await statuses(profile_1, charge_point_id, OLD, NEW, newest, NEW) == [401, 101, 101, 401]


@pytest.mark.parametrize("answer", ["Rejected", "NotSupported"])
async def test_refused_the_old_password_stays(profile_1, answer):
    charge_point_id = new_id()
    register(profile_1.api_url, charge_point_id, password=OLD)
    async with connected(profile_1, charge_point_id, additional_headers=basic(charge_point_id, OLD)) as charge_point:
        charge_point.replies["ChangeConfiguration"] = {"status": answer}
        response = await change_password(profile_1, charge_point_id)
    assert response.status_code == 200
    assert response.json()["success"] is False and response.json()["status"] == answer
    assert "password is unchanged" in response.json()["message"]
    assert await statuses(profile_1, charge_point_id, NEW, OLD) == [401, 101]


async def test_unanswered_or_not_connected_the_old_password_stays(profile_1):
    charge_point_id = new_id()
    register(profile_1.api_url, charge_point_id, password=OLD)
    async with connected(profile_1, charge_point_id, additional_headers=basic(charge_point_id, OLD)) as charge_point:
        charge_point.silent.add("ChangeConfiguration")
        response = await change_password(profile_1, charge_point_id)
    assert response.status_code == 504
    assert response.json()["error"] == "charge_point_timeout" and "password is unchanged" in response.json()["message"]
    assert await statuses(profile_1, charge_point_id, NEW, OLD) == [401, 101]
    not_connected = await change_password(profile_1, charge_point_id)
    assert not_connected.status_code == 409 and "password is unchanged" in not_connected.json()["message"]
    assert await statuses(profile_1, charge_point_id, NEW, OLD) == [401, 101]
    assert (await change_password(profile_1, charge_point_id, "short")).status_code == 400
    assert (await change_password(profile_1, "NO-SUCH-CP")).status_code == 404


async def test_setting_the_password_directly_leaves_no_previous_one(profile_1):
    charge_point_id = new_id()
    register(profile_1.api_url, charge_point_id, password=OLD)
    async with connected(profile_1, charge_point_id, additional_headers=basic(charge_point_id, OLD)):
        assert (await change_password(profile_1, charge_point_id)).json()["success"] is True
    replaced = httpx.put(f"{profile_1.api_url}/api/charge-points/{charge_point_id}/password",
                         json={"password": "9999888877776666-direct"})
    assert replaced.status_code == 200
    assert await statuses(profile_1, charge_point_id, OLD, NEW, "9999888877776666-direct") == [401, 401, 101]
