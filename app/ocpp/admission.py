"""Admission control: a server beyond what it can serve sheds new load the way OCPP intends, and keeps
every charge point it has already accepted.

The backlog is what this process has taken on and not answered yet: handshakes in progress, and
messages waiting for their commit (app/group_commit.py). Past OCPP_ADMISSION_BACKLOG, a new handshake
gets 503 with a Retry-After. A BootNotification gets Pending with its interval when the messages waiting
for their commit alone are past it: a charge point that boots is already connected, and its boot costs
less now than the one it would send again later, so a queue of handshakes is no reason to put it off.
Both waits are drawn at random between OCPP_ADMISSION_RETRY and twice that, so that the refused do not
all come back at the same moment. A charge point with a transaction running is never kept out: its
driver is waiting.

Handshakes take turns: at most HANDSHAKE_TURNS run at once, from the request read until their writes
are handed to the group commit; the others wait for a turn without using the CPU. One gevent hub
runs every greenlet in the order they became runnable: in a reconnect storm a thousand handshakes
runnable at once would put seconds of work ahead of anything that became runnable after them (a
/healthz, an API request, a connected charge point's answer).
"""
import logging
import random

from flask import current_app
from gevent.lock import Semaphore

logger = logging.getLogger(__name__)

# A handshake's turn is 1 to 3 ms of CPU (the wait for its commit is not in it): 20 at once keep what
# they put ahead of anything else under a tenth of a second, and let through more handshakes a second
# than the process can boot charge points.
HANDSHAKE_TURNS = 20


class Admission:
    def __init__(self, app):
        self._group_commit = app.extensions["group_commit"]
        self.threshold = app.config["OCPP_ADMISSION_BACKLOG"]
        self.retry_seconds = app.config["OCPP_ADMISSION_RETRY"]
        self.handshakes = 0
        self._turns = Semaphore(HANDSHAKE_TURNS)

    @property
    def backlog(self) -> int:
        return self.handshakes + self._group_commit.pending

    def overloaded(self) -> bool:
        """Beyond what it can serve: a new connection is refused."""
        return self.backlog > self.threshold

    def writes_behind(self) -> bool:
        """More messages wait for their commit than the threshold: a BootNotification is put off."""
        return self._group_commit.pending > self.threshold

    def take_turn(self) -> None:
        """Wait for a turn (see above); the handshake counts in the backlog from now until end_turn()."""
        self.handshakes += 1
        try:
            self._turns.acquire()
        except BaseException:
            self.handshakes -= 1
            raise

    def end_turn(self) -> None:
        self.handshakes -= 1
        self._turns.release()

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
