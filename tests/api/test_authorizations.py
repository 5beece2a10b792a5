"""/api/authorizations: the idTags that Authorize and StartTransaction check."""
from ocpp.v16 import call

from tests.charge_points import connected, new_id


async def test_create_read_update_delete_and_authorize_sees_each_step(server, api):
    id_tag = new_id("T")[-12:]
    created = await api.post("/api/authorizations", json={"idTag": id_tag, "expiryDate": "2099-06-01T12:00:00+02:00",
                                                           "parentIdTag": "GROUP1"})
    assert created.status_code == 201
    assert created.json() == {**created.json(), "idTag": id_tag, "status": "Accepted",
                              "expiryDate": "2099-06-01T10:00:00.000Z", "parentIdTag": "GROUP1"}
    assert (await api.get("/api/authorizations", params={"idTag": id_tag})).json()["parentIdTag"] == "GROUP1"
    assert id_tag in [tag["idTag"] for tag in (await api.get("/api/authorizations")).json()]
    async with connected(server) as charge_point:
        async def status():
            return (await charge_point.call(call.Authorize(id_tag=id_tag))).id_tag_info["status"]

        assert await status() == "Accepted"
        updated = await api.post("/api/authorizations", json={"idTag": id_tag, "status": "Blocked"})
        assert updated.status_code == 200 and updated.json()["status"] == "Blocked"
        assert updated.json()["parentIdTag"] is None and updated.json()["expiryDate"] is None
        assert await status() == "Blocked"
        deleted = await api.delete("/api/authorizations", params={"idTag": id_tag})
        assert deleted.status_code == 200 and deleted.json()["success"] is True
        assert await status() == "Invalid"
    assert (await api.get("/api/authorizations", params={"idTag": id_tag})).status_code == 404
    assert (await api.delete("/api/authorizations", params={"idTag": id_tag})).status_code == 404


async def test_bad_authorization_bodies_are_400(api):
    for body, field in (({"status": "Accepted"}, "idTag"),
                        ({"idTag": "X" * 21}, "idTag"),
                        ({"idTag": "OK1", "status": "ConcurrentTx"}, "status"),
                        ({"idTag": "OK1", "status": "Fine"}, "status"),
                        ({"idTag": "OK1", "expiryDate": "next tuesday"}, "expiryDate")):
        response = await api.post("/api/authorizations", json=body)
        assert response.status_code == 400, body
        assert field in response.json()["details"]["json"], body
    assert (await api.delete("/api/authorizations")).status_code == 400
