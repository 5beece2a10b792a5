"""The baseline a Python user would write: a central system on the `ocpp` package and `websockets`
(asyncio), with the package's defaults (it validates payloads), keeping nothing.

    python bench/baseline_csms.py --port 9100
"""
import argparse
import asyncio
import itertools
import logging
from datetime import datetime, timezone

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

transaction_ids = itertools.count(1)


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


class CentralSystemView(ChargePoint):
    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        return call_result.BootNotification(current_time=now(), interval=60, status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs):
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(self, **kwargs):
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag, **kwargs):
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    def on_start_transaction(self, **kwargs):
        return call_result.StartTransaction(transaction_id=next(transaction_ids),
                                            id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.stop_transaction)
    def on_stop_transaction(self, **kwargs):
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs):
        return call_result.MeterValues()


async def serve_charge_point(connection):
    charge_point = CentralSystemView(connection.request.path.strip("/"), connection)
    try:
        await charge_point.start()
    except websockets.ConnectionClosed:
        pass


async def main(port: int) -> None:
    async with websockets.serve(serve_charge_point, "127.0.0.1", port, subprotocols=["ocpp1.6"], compression=None,
                                max_size=2 ** 20):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9100)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parser.parse_args().port))
