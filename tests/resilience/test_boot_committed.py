"""A BootNotification is answered only once what it writes is committed: with the database unable to
write (PostgreSQL of the test's own stopped, SQLite's disk full) the charge point gets CALLERROR
InternalError, not Accepted, and nothing of that boot is in the database; once it can write, the same
BootNotification sent again is Accepted and stored once (a retried boot is one boot more, not a
duplicate charge point)."""
from contextlib import contextmanager

import pytest
from ocpp.exceptions import InternalError
from ocpp.v16 import call

from tests.charge_points import connected
from tests.resilience.outages import Database, OwnPostgres, fill, require_mount, small_disk
from tests.servers import ScratchDatabase, start_server

BOOT = call.BootNotification(charge_point_vendor="Vendor", charge_point_model="Committed", firmware_version="1.0")


def boots(database, charge_point_id: str) -> tuple:
    """(charge point rows, its boot log rows, its firmware version) as the database has them."""
    return (database.scalar("SELECT count(*) FROM charge_points WHERE id = :id", id=charge_point_id),
            database.scalar("SELECT count(*) FROM system_logs WHERE charge_point_id = :id AND event = 'boot'",
                            id=charge_point_id),
            database.scalar("SELECT firmware_version FROM charge_points WHERE id = :id", id=charge_point_id))


async def boot_refused_then_accepted(server, database, cannot_write) -> None:
    async with connected(server) as charge_point:
        first = await charge_point.call(BOOT, suppress=False)
        assert first.status == "Accepted"
        assert boots(database, charge_point.id) == (1, 1, "1.0")
        second_boot = call.BootNotification(charge_point_vendor="Vendor", charge_point_model="Committed",
                                            firmware_version="2.0")
        with cannot_write():
            with pytest.raises(InternalError):
                await charge_point.call(second_boot, suppress=False)
        assert boots(database, charge_point.id) == (1, 1, "1.0"), "a boot answered with an error was stored"
        # The charge point sends it again, as it does until it is answered; the connection stayed up.
        again = await charge_point.call(second_boot, suppress=False)
        assert again.status == "Accepted"
        assert boots(database, charge_point.id) == (1, 2, "2.0")


async def test_postgres_stopped(tmp_path):
    postgres = OwnPostgres()
    database = Database(postgres.url)
    server = start_server(database, tmp_path, BACKGROUND_JOBS="false")

    class Stopped:
        def __enter__(self):
            postgres.stop()

        def __exit__(self, *_):
            postgres.start()
    try:
        await boot_refused_then_accepted(server, database, Stopped)
    finally:
        server.stop()
        database.drop()
        postgres.remove()


async def test_sqlite_disk_full(tmp_path):
    require_mount()
    with small_disk(16) as disk:
        database = ScratchDatabase("sqlite", disk)
        server = start_server(database, tmp_path, BACKGROUND_JOBS="false")

        @contextmanager
        def full():
            filler = fill(disk)
            try:
                yield
            finally:
                filler.unlink()
        try:
            await boot_refused_then_accepted(server, database, full)
        finally:
            server.stop()
            database.drop()
