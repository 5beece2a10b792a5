"""Live events for the console's open pages: status changes, connections, transaction starts and stops,
new system log lines.

publish() is the one call the services make where these things happen; it never raises and costs
nothing while no page is open. With REDIS_URL, events travel over Redis pub/sub, so that a page served
by any process sees the charge points of every process (and the events of worker.py's jobs); one
listener greenlet per process hands them to the open pages of that process. Without Redis they stay in
the process (which then holds every charge point).
"""
import json
import logging
import time

import gevent
from flask import Flask, current_app, has_app_context
from gevent.queue import Full, Queue
from redis.exceptions import RedisError

from app.extensions import redis_client
from app.spec.datatypes import isoformat
from app.timeutil import utcnow

logger = logging.getLogger(__name__)

CHANNEL = "ocpp:console-events"
QUEUE_SIZE = 1000       # events a page may lag behind; beyond, it misses some (its next reload catches up)
LISTENERS_RECHECK = 1.0  # seconds between asking Redis whether any process has open pages
PAUSE_AFTER_FAILURE = 5.0  # seconds without publishing after Redis failed: OCPP messages must not wait on it
STATUS, CONNECTION, TRANSACTION, LOG = "status", "connection", "transaction", "log"


class EventHub:
    def __init__(self, redis=None):
        self._redis = redis
        self._queues: set[Queue] = set()
        self._listener = None
        self._anyone_listening = (0.0, False)  # (when asked, answer): Redis is asked at most once a second
        self._failed_at = -PAUSE_AFTER_FAILURE

    def publish(self, kind: str, data: dict) -> None:
        if self._redis is None:
            if self._queues:
                self._deliver(_message(kind, data))
            return
        if time.monotonic() - self._failed_at < PAUSE_AFTER_FAILURE:
            return
        try:
            if self._pages_open_anywhere():
                self._redis.publish(CHANNEL, _message(kind, data))
        except (RedisError, OSError):
            self._failed_at = time.monotonic()
            raise

    def subscribe(self) -> Queue:
        """A queue of this process's events (JSON text; None when the server shuts down)."""
        queue = Queue(QUEUE_SIZE)
        self._queues.add(queue)
        if self._redis is not None and self._listener is None:
            self._listener = gevent.spawn(self._listen)
        return queue

    def unsubscribe(self, queue: Queue) -> None:
        self._queues.discard(queue)

    def close_all(self) -> None:
        for queue in list(self._queues):
            self._queues.discard(queue)
            queue.queue.clear()
            queue.put_nowait(None)

    def _pages_open_anywhere(self) -> bool:
        if self._queues:
            return True
        asked_at, answer = self._anyone_listening
        if time.monotonic() - asked_at > LISTENERS_RECHECK:
            answer = self._redis.pubsub_numsub(CHANNEL)[0][1] > 0
            self._anyone_listening = (time.monotonic(), answer)
        return answer

    def _deliver(self, message: str) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except Full:
                pass

    def _listen(self) -> None:
        """Hand every event published on Redis to this process's pages, resubscribing after a failure."""
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for item in pubsub.listen():
                    self._deliver(item["data"].decode())
            except (RedisError, OSError) as error:
                logger.warning("console events: Redis pub/sub failed (%s); subscribing again", error)
                gevent.sleep(1)


def _message(kind: str, data: dict) -> str:
    return json.dumps({"kind": kind, "at": isoformat(utcnow()), **data}, default=str)


def init_app(app: Flask) -> None:
    app.extensions["console_events"] = EventHub(redis_client(app) if app.config["REDIS_URL"] else None)


def hub() -> EventHub:
    return current_app.extensions["console_events"]


def publish(kind: str, **data) -> None:
    """Tell the open console pages; never raises (a page missing an event is no reason to fail OCPP)."""
    if not has_app_context() or "console_events" not in current_app.extensions:
        return
    try:
        hub().publish(kind, data)
    except Exception as error:  # Redis down: the event is lost, the charge point's message is not
        logger.debug("console event %s not published: %s", kind, error)


def publish_transaction(transaction, running: bool = True) -> None:
    """A transaction started (running) or stopped."""
    publish(TRANSACTION, charge_point_id=transaction.charge_point_id, connector_id=transaction.connector_id,
            transaction_id=transaction.id, running=running)


def close_streams(app: Flask) -> None:
    """End every open event stream (at shutdown: they would hold the worker up to its graceful timeout)."""
    hub_of_app = app.extensions.get("console_events")
    if hub_of_app is not None:
        hub_of_app.close_all()
