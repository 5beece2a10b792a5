"""Without Redis (the `make run` default), the same jobs run on their schedule inside the server process."""
import asyncio
import json
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.charge_points import connected, eventually
from tests.conftest import running_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def embedded_server(request, tmp_path_factory):
    with running_server(request.param, tmp_path_factory, BACKGROUND_JOBS="true", METER_COLLECTION_INTERVAL=1,
                        HEARTBEAT_CHECK_INTERVAL=1, OFFLINE_CHECK_INTERVAL=1, BACKUP_INTERVAL=2,
                        RESERVATION_CHECK_INTERVAL=1, BACKUP_KEEP=3,
                        OCPP_HEARTBEAT_INTERVAL=1, HEARTBEAT_GRACE_FACTOR=2) as server:
        yield server


async def test_every_job_runs_in_the_server_process(embedded_server):
    db = embedded_server.database
    async with connected(embedded_server) as charging, connected(embedded_server) as silent:
        transaction_id = await charging.start_transaction(meter_start=100)
        charging.meter_wh = 250
        await silent.call(call.Heartbeat())
        for _ in range(8):  # keep the charging one alive for 4 s
            await charging.call(call.Heartbeat())
            await asyncio.sleep(0.5)
        # Meter collection asked the charging one for MeterValues; its answer is stored.
        assert (await charging.wait_for_call("TriggerMessage"))["requested_message"] == "MeterValues"
        await eventually(lambda: db.scalar("SELECT count(*) FROM meter_values WHERE transaction_id = :id AND "
                                           "value = '250'", id=transaction_id))
        # The heartbeat check closed the silent one.
        await asyncio.wait_for(silent._connection.wait_closed(), 5)
        assert not charging._connection.close_code
    assert db.scalar("SELECT count(*) FROM system_logs WHERE charge_point_id = :id AND event = 'heartbeat_timeout'",
                     id=silent.id) == 1
    backups = list(Path(embedded_server.environment["BACKUP_DIR"]).glob("ocpp-backup-*"))
    assert 1 <= len(backups) <= 3
    details = [row["details"] for row in db.rows("SELECT details FROM system_logs WHERE event = 'job'")]
    jobs = {(json.loads(item) if isinstance(item, str) else item)["job"] for item in details}
    assert jobs == {"collect_meter_values", "check_heartbeats", "monitor_offline_transactions", "backup_database",
                    "expire_reservations"}
