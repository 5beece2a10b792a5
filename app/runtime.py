"""What a server process runs besides answering requests: the Redis relay's inbox and registry, and
(without Redis) the periodic jobs. Started by gunicorn's post_worker_init hook, never by create_app,
so that `flask` commands and tests that build the app start nothing."""
from flask import Flask

from app.tasks import runner


def start_background(app: Flask) -> None:
    registry = app.extensions["ocpp_connections"]
    if registry.relay is not None:
        registry.relay.serve(registry)
    elif app.config["BACKGROUND_JOBS"]:
        runner.start_in_process(app)
