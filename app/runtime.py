"""What a server process runs besides answering requests: the Redis relay's inbox and registry, the
periodic jobs (without Redis), and the graceful shutdown. Started by gunicorn's post_worker_init hook,
never by create_app, so that `flask` commands and tests that build the app start nothing."""
import logging
import os
import time

import gevent
from flask import Flask

from app import collector, events
from app.extensions import db
from app.ocpp import keepalive
from app.outages import one_line
from app.services import api_keys, users
from app.spec.close_codes import GOING_AWAY
from app.tasks import runner

logger = logging.getLogger(__name__)

SHUTDOWN_REASON = "the central system is shutting down"

_shutdown: gevent.Greenlet | None = None


def start_background(app: Flask, worker=None) -> None:
    _startup_warnings(app)
    keepalive.start(app)
    registry = app.extensions["ocpp_connections"]
    if registry.relay is not None:
        registry.relay.serve(registry)
    elif app.config["BACKGROUND_JOBS"]:
        runner.start_in_process(app)
    if worker is not None:
        _stop_gracefully_when_orphaned(worker)
        global _shutdown
        _shutdown = gevent.spawn(_shut_down_when_stopped, app, worker)
    collector.configure()


def _startup_warnings(app: Flask) -> None:
    with app.app_context():
        if _no_console_account():
            logger.warning("No console account yet: make the first with `.venv/bin/flask --app wsgi user create "
                           "NAME --role admin`, then sign in at http://%s:%s/", app.config["OCPP_HOST"],
                           app.config["PORT"] or app.config["OCPP_API_PORT"])
    listens_beyond_localhost = app.config["PORT"] is not None or \
        app.config["OCPP_HOST"] not in ("localhost", "127.0.0.1", "::1")
    with app.app_context():
        try:
            # Counted now, whether a key is needed is known when the database is away later on.
            open_api = not api_keys.required()
        except Exception as error:  # the database is away at start: the API finds out later
            logger.warning("cannot tell whether the API needs a key: %s", one_line(error))
            return
        finally:
            # Not kept from start-up: the first request opens the connection it uses, with the file as
            # it is then (SQLite opens a file read-only for good when it cannot write it).
            db.session.remove()
            db.engine.dispose()
        if listens_beyond_localhost and open_api:
            logger.warning("!" * 78)
            logger.warning("THE API IS OPEN TO ANYONE WHO REACHES %s: no API key is configured. Set API_KEYS or "
                           "run `flask --app wsgi api-key create NAME`.", app.config["OCPP_HOST"])
            logger.warning("!" * 78)


def _no_console_account() -> bool:
    try:
        return users.count() == 0
    except Exception:  # the database is not there yet: its own checks say so
        db.session.rollback()
        return False


def _orphaned(worker) -> bool:
    return worker.ppid != os.getppid()


def _stop_gracefully_when_orphaned(worker) -> None:
    """gunicorn's gevent worker exits at once (sys.exit in notify) when it finds its master gone (killed):
    its charge points would see their sockets cut (1006) and their disconnections go unrecorded. It stops
    as on SIGTERM instead: then the shutdown below closes them with 1001 and records them."""
    notify = worker.notify

    def notify_unless_orphaned():
        if _orphaned(worker):
            worker.alive = False
            return
        notify()
    worker.notify = notify_unless_orphaned


def _shut_down_when_stopped(app: Flask, worker) -> None:
    # gunicorn's SIGTERM handler only clears worker.alive; the worker then waits (graceful_timeout) for
    # its requests, which for a WebSocket never end on their own.
    while worker.alive and not _orphaned(worker):
        gevent.sleep(0.2)
    if worker.alive:
        logger.warning("the gunicorn master (pid %d) is gone: shutting down", worker.ppid)
        worker.alive = False
    shut_down(app, drain_seconds=min(app.config["OCPP_COMMAND_TIMEOUT"], worker.cfg.graceful_timeout / 2))


def wait_for_shut_down(timeout: float) -> None:
    """Wait for the graceful shutdown (the worker is exiting). gunicorn waits for its requests only, and
    a charge point's connection outlives the request that opened it (transport.serve_apart)."""
    if _shutdown is not None:
        _shutdown.join(timeout)


def shut_down(app: Flask, drain_seconds: float) -> None:
    """Let commands in flight get their answers, then close every WebSocket with 1001 (going away) so
    that charge points reconnect elsewhere; each session records its disconnection as it ends."""
    registry = app.extensions["ocpp_connections"]
    logger.info("shutting down: %d charge point connections", len(registry.local_ids()))
    deadline = time.monotonic() + drain_seconds
    while registry.busy() and time.monotonic() < deadline:
        gevent.sleep(0.05)
    events.close_streams(app)
    registry.close_all(GOING_AWAY, SHUTDOWN_REASON)
    deadline = time.monotonic() + 5
    while registry.local_ids() and time.monotonic() < deadline:
        gevent.sleep(0.05)
    if registry.relay is not None:
        registry.relay.leave()
