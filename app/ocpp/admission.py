"""Admission control: a server beyond what it can serve sheds new load the way OCPP intends, and keeps
every charge point it has already accepted.

The backlog is what this process has taken on and not answered yet: handshakes in progress, and
messages waiting for their commit (app/group_commit.py). Past OCPP_ADMISSION_BACKLOG, a new handshake
gets 503 with a Retry-After, and a BootNotification gets Pending with its interval; both drawn at random
between OCPP_ADMISSION_RETRY and twice that, so that the refused do not all come back at the same
moment. A charge point with a transaction running is never kept out: its driver is waiting.
"""
import logging
import random
from contextlib import contextmanager

from flask import current_app

logger = logging.getLogger(__name__)


class Admission:
    def __init__(self, app):
        self._group_commit = app.extensions["group_commit"]
        self.threshold = app.config["OCPP_ADMISSION_BACKLOG"]
        self.retry_seconds = app.config["OCPP_ADMISSION_RETRY"]
        self.handshakes = 0

    @property
    def backlog(self) -> int:
        return self.handshakes + self._group_commit.pending

    def overloaded(self) -> bool:
        return self.backlog > self.threshold

    @contextmanager
    def handshake(self):
        """Counts a handshake from the moment it is read until it is answered."""
        self.handshakes += 1
        try:
            yield
        finally:
            self.handshakes -= 1

    def retry_after(self) -> int:
        """Seconds a refused charge point waits before it comes back, with jitter."""
        return random.randint(self.retry_seconds, 2 * self.retry_seconds)

    def shed(self, charge_point_id: str, what: str) -> None:
        # The process log only: under overload, a database row per refusal would add to the overload.
        logger.info("%s: %s (backlog %d > OCPP_ADMISSION_BACKLOG %d)", charge_point_id, what, self.backlog,
                    self.threshold)


def admission() -> Admission:
    extensions = current_app.extensions
    if "admission" not in extensions:
        extensions["admission"] = Admission(current_app)
    return extensions["admission"]
