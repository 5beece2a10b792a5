"""Admission control: a server beyond what it can serve sheds new load the way OCPP intends, and keeps
every charge point it has already accepted.

The backlog is what this process has taken on and not answered yet: handshakes in progress, and
messages waiting for their commit (app/group_commit.py). Past OCPP_ADMISSION_BACKLOG, and more than
OCPP_ADMISSION_WAIT seconds of work at the rates the process has been getting through it, a new
handshake gets 503 with a Retry-After. A BootNotification gets Pending with its interval when the
messages waiting for their commit alone are past both: a charge point that boots is already connected,
and its boot costs less now than the one it would send again later, so a queue of handshakes is no
reason to put it off.
A charge point with a transaction running is never kept out: its driver is waiting.

The refused come back at the pace the process takes them (retry_after): each refused handshake is given
the next slot, slots following one another at the rate handshakes have been served over the last
seconds (or SLOTS_PER_SECOND where that is faster), from when the backlog ahead of them
will be through (at most OCPP_ADMISSION_WAIT from now). A storm of 19,000 refused with the same
short wait would come back at once and be refused again; with the same long wait it would leave the
process idle until they return. A Pending BootNotification's interval is drawn between
OCPP_ADMISSION_RETRY and twice that.

Handshakes take turns: at most HANDSHAKE_TURNS run at once, from the request read until their writes
are handed to the group commit; the others wait for a turn without using the CPU. One gevent hub
runs every greenlet in the order they became runnable: in a reconnect storm a thousand handshakes
runnable at once would put seconds of work ahead of anything that became runnable after them (a
/healthz, an API request, a connected charge point's answer).
"""
import logging
import math
import random
import time

from flask import current_app
from gevent.lock import Semaphore

from app.timeutil import RateMeter

logger = logging.getLogger(__name__)

# A handshake's turn is 1 to 3 ms of CPU (the wait for its commit is not in it): 20 at once keep what
# they put ahead of anything else under a tenth of a second, and let through more handshakes a second
# than the process can boot charge points.
HANDSHAKE_TURNS = 20

# Handshakes a second assumed until the process has measured its own rate for a few seconds
# (app/timeutil.RateMeter; a new process in a storm refuses most of it within its first second).
ASSUMED_HANDSHAKES_PER_SECOND = 450.0
# The closest refused charge points are brought back, whatever rate is measured: once they return at
# their slots, the rate measured is the slots' own. Too close costs little: those that come early wait
# in the backlog (up to OCPP_ADMISSION_WAIT of it), or are refused again and given a later slot.
# Too far apart leaves the process idle: at 450 a second, a 19,000 storm on SQLite left it at 70 to 90 %
# of its core for its last 15 s; at 600 it is at its limit throughout (README, Benchmark).
SLOTS_PER_SECOND = 600.0
# A refused charge point is never told to stay away longer than a minute: the rates behind its slot are
# measured under overload and can be far too low (in a 19,000 storm on PostgreSQL, 602 charge points
# waited minutes for slots while the process sat idle).
LONGEST_RETRY = 60


class Admission:
    def __init__(self, app):
        self._group_commit = app.extensions["group_commit"]
        self.threshold = app.config["OCPP_ADMISSION_BACKLOG"]
        self.retry_seconds = app.config["OCPP_ADMISSION_RETRY"]
        self.wait_seconds = app.config["OCPP_ADMISSION_WAIT"]
        self.handshakes = 0
        self._turns = Semaphore(HANDSHAKE_TURNS)
        self._served = RateMeter(ASSUMED_HANDSHAKES_PER_SECOND)
        self._next_slot = 0.0

    @property
    def backlog(self) -> int:
        return self.handshakes + self._group_commit.pending

    def overloaded(self) -> bool:
        """Beyond what it can serve, a new connection is refused: more in the backlog than the threshold,
        and more than OCPP_ADMISSION_WAIT seconds of it at the rates the process has been getting through
        it. (A storm's messages arrive together and are committed hundreds at a time: a queue of 7,000
        writes that is through in three seconds is no reason to send charge points away.)"""
        return self.backlog > self.threshold and self._through_in() > self.wait_seconds

    def writes_behind(self) -> bool:
        """Likewise, with the messages waiting for their commit alone: a BootNotification is put off."""
        pending = self._group_commit.pending
        return pending > self.threshold and self._writes_through_in() > self.wait_seconds

    def _through_in(self) -> float:
        """Seconds until what is in the backlog now is through."""
        return self.handshakes / self._served.per_second() + self._writes_through_in()

    def _writes_through_in(self) -> float:
        return self._group_commit.pending / self._group_commit.committed.per_second()

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
        self._served.add()

    def retry_after(self) -> int:
        """Seconds a refused handshake waits before it comes back: until its slot (see above), at least
        OCPP_ADMISSION_RETRY, with up to a second of jitter."""
        now = time.monotonic()
        # Rates measured under overload are too low: slots spaced by them spread 11,367 refused over ten
        # minutes, and a backlog estimated with them sent a storm's refused away for a minute, the process
        # idle meanwhile (both seen in 19,000 storms on PostgreSQL). So slots are at least as close as
        # SLOTS_PER_SECOND makes them, and the first start no later than OCPP_ADMISSION_WAIT from now. One
        # that comes back too early is refused again and given a later slot; one too late leaves the
        # process idle.
        spacing = 1 / max(self._served.per_second(), SLOTS_PER_SECOND)
        start = now + min(self._through_in(), self.wait_seconds)
        self._next_slot = max(self._next_slot, start) + spacing
        wait = max(self.retry_seconds, self._next_slot - now)
        return min(LONGEST_RETRY, math.ceil(wait + random.random()))

    def pending_interval(self) -> int:
        """Seconds a BootNotification answered Pending waits before it boots again, with jitter."""
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
