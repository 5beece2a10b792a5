"""The one clock of the server: UTC. (The spec's dateTime in and out: app.spec.datatypes.) And a rate
measured over the last seconds."""
import time
from collections import deque
from datetime import datetime, timezone

SLOWEST_RATE = 20.0  # a floor for a rate measured while little arrived
RATE_WINDOW = 5  # seconds over which a rate is measured


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RateMeter:
    """Events a second over the last RATE_WINDOW seconds (in one-second buckets)."""

    def __init__(self, assumed: float):
        self.assumed = assumed
        self._buckets: deque[list] = deque()  # [second, count]

    def add(self, count: int = 1) -> None:
        second = int(time.monotonic())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([second, count])
            self._forget_before(second - RATE_WINDOW)

    def per_second(self) -> float:
        """The rate measured (at least SLOWEST_RATE), or the one assumed while less than two seconds
        have been measured."""
        now = time.monotonic()
        self._forget_before(int(now) - RATE_WINDOW)
        if not self._buckets or now - self._buckets[0][0] < 2:
            return self.assumed
        return max(SLOWEST_RATE, sum(count for _, count in self._buckets) / (now - self._buckets[0][0]))

    def _forget_before(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] < second:
            self._buckets.popleft()
