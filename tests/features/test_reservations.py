"""Reservation: ReserveNow and CancelReservation stored with their status; a StartTransaction with the
reservation ends it; another idTag on a reserved connector is refused; expired ones are marked."""
import asyncio

from ocpp.v16 import call

from tests.charge_points import connected, new_id, timestamp
from tests.conftest import running_server


async def reserve(api, charge_point_id, **body):
    return await api.post("/api/commands/reserve-now", json={"chargePointId": charge_point_id, "connectorId": 1,
                                                             "expiryDate": timestamp(3600), **body})


async def accepted_tag(api, parent=None) -> str:
    id_tag = new_id("")[-10:]
    body = {"idTag": id_tag, **({"parentIdTag": parent} if parent else {})}
    assert (await api.post("/api/authorizations", json=body)).status_code == 201
    return id_tag


async def test_reserve_use_and_refuse_others(server, api):
    holder, other, group_member = await accepted_tag(api, "GRP-R"), await accepted_tag(api), await accepted_tag(api, "GRP-R")
    async with connected(server) as charge_point:
        response = await reserve(api, charge_point.id, idTag=holder, parentIdTag="GRP-R")
        reservation = response.json()["reservation"]
        assert response.json()["status"] == "Accepted" and reservation["status"] == "Accepted"
        sent = await charge_point.wait_for_call("ReserveNow")
        assert sent["reservation_id"] == reservation["reservationId"] and sent["id_tag"] == holder
        assert sent["parent_id_tag"] == "GRP-R"
        # Someone else may not start on the reserved connector...
        refused = await charge_point.call(call.StartTransaction(connector_id=1, id_tag=other, meter_start=0,
                                                                timestamp=timestamp()))
        assert refused.id_tag_info["status"] == "Invalid"
        # ...a tag of the reservation's group may, and that ends the reservation.
        started = await charge_point.call(call.StartTransaction(connector_id=1, id_tag=group_member, meter_start=0,
                                                                timestamp=timestamp(1)))
        assert started.id_tag_info["status"] == "Accepted"
    listed = (await api.get("/api/reservations", params={"chargePointId": charge_point.id})).json()
    assert (listed[0]["status"], listed[0]["transactionId"]) == ("Used", started.transaction_id)


async def test_start_with_the_reservation_id_ends_it(server, api):
    holder = await accepted_tag(api)
    async with connected(server) as charge_point:
        reservation = (await reserve(api, charge_point.id, idTag=holder, connectorId=2)).json()["reservation"]
        started = await charge_point.call(call.StartTransaction(connector_id=2, id_tag=holder, meter_start=5,
                                                                timestamp=timestamp(),
                                                                reservation_id=reservation["reservationId"]))
    listed = (await api.get("/api/reservations", params={"chargePointId": charge_point.id})).json()
    assert (listed[0]["status"], listed[0]["transactionId"]) == ("Used", started.transaction_id)
    transaction = (await api.get(f"/api/transactions/{started.transaction_id}")).json()
    assert transaction["reservationId"] == reservation["reservationId"]


async def test_refusals_and_cancellation(server, api):
    holder = await accepted_tag(api)
    async with connected(server) as charge_point:
        charge_point.replies["ReserveNow"] = {"status": "Occupied"}
        occupied = await reserve(api, charge_point.id, idTag=holder)
        assert occupied.json()["success"] is False and occupied.json()["reservation"]["status"] == "Occupied"
        charge_point.replies["ReserveNow"] = {"status": "Accepted"}
        reservation = (await reserve(api, charge_point.id, idTag=holder)).json()["reservation"]
        cancelled = await api.post("/api/commands/cancel-reservation",
                                   json={"chargePointId": charge_point.id, "reservationId": reservation["reservationId"]})
        assert cancelled.json()["reservation"]["status"] == "Cancelled"
        assert await charge_point.wait_for_call("CancelReservation") == {"reservation_id": reservation["reservationId"]}
        # A connector no longer reserved takes anyone.
        other = await accepted_tag(api)
        started = await charge_point.call(call.StartTransaction(connector_id=1, id_tag=other, meter_start=0,
                                                                timestamp=timestamp()))
        assert started.id_tag_info["status"] == "Accepted"
        past = await reserve(api, charge_point.id, idTag=holder, expiryDate=timestamp(-60))
        assert past.status_code == 400
        unknown = await api.post("/api/commands/cancel-reservation",
                                 json={"chargePointId": charge_point.id, "reservationId": 2_000_000_000})
        assert unknown.status_code == 404


async def test_a_reservation_expires(tmp_path_factory):
    import httpx
    with running_server("sqlite", tmp_path_factory, BACKGROUND_JOBS="true", RESERVATION_CHECK_INTERVAL=1) as server:
        async with httpx.AsyncClient(base_url=server.api_url) as api, connected(server) as charge_point:
            holder = await accepted_tag(api)
            reservation = (await reserve(api, charge_point.id, idTag=holder, expiryDate=timestamp(1.5))).json()
            assert reservation["reservation"]["status"] == "Accepted"
            deadline = asyncio.get_running_loop().time() + 30  # however late the job runs on a busy machine
            while (listed := (await api.get("/api/reservations", params={"chargePointId": charge_point.id})).json()) \
                    and listed[0]["status"] != "Expired" and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.1)
            assert listed[0]["status"] == "Expired"
            # Expired, it no longer holds the connector.
            other = await accepted_tag(api)
            started = await charge_point.call(call.StartTransaction(connector_id=1, id_tag=other, meter_start=0,
                                                                    timestamp=timestamp()))
            assert started.id_tag_info["status"] == "Accepted"
