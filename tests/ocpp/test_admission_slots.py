"""When the refused come back (app/ocpp/admission.py): spread at the rate the process serves handshakes,
after the backlog ahead of them, instead of all after the same wait."""
import pytest

from app import timeutil
from app.ocpp.admission import SLOTS_PER_SECOND, Admission
from app.timeutil import RateMeter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timeutil.time, "monotonic", clock)
    return clock


def test_a_rate_is_assumed_until_two_seconds_are_measured_then_measured(clock):
    meter = RateMeter(assumed=300.0)
    assert meter.per_second() == 300.0
    for second in range(4):
        meter.add(50)
        clock.now += 1
    assert meter.per_second() == pytest.approx(50.0)
    clock.now += 60  # nothing for a minute: what was measured is forgotten
    assert meter.per_second() == 300.0


def test_a_slow_trickle_counts_as_the_slowest_rate_not_as_none(clock):
    meter = RateMeter(assumed=300.0)
    meter.add()
    clock.now += 3
    assert meter.per_second() == 20.0


def test_refused_handshakes_get_slots_one_after_another_after_the_backlog(in_app, clock):
    gate = Admission(in_app)
    gate.retry_seconds = 1
    gate.handshakes = 600  # waiting for their turn: two seconds of work at the assumed rate
    waits = [gate.retry_after() for _ in range(1200)]
    slots = 1200 / SLOTS_PER_SECOND
    assert 2 <= waits[0] <= 4  # after the backlog (2 s), with up to a second of jitter
    assert 2 + slots <= waits[-1] <= 2 + slots + 2
    assert waits == sorted(waits) or sum(a > b for a, b in zip(waits, waits[1:])) < 400  # (jitter only)
    per_second = [waits.count(second) for second in set(waits)]
    assert max(per_second) <= 2 * SLOTS_PER_SECOND  # spread, not all at one moment


def test_slots_already_given_are_not_given_again_and_the_past_is_not_reused(in_app, clock):
    gate = Admission(in_app)
    gate.retry_seconds = 1
    gate.handshakes = 3000
    first = [gate.retry_after() for _ in range(300)]
    later = [gate.retry_after() for _ in range(300)]
    assert min(later) >= max(first) - 1  # behind those already refused (a second of jitter either side)
    clock.now += 600  # long after every slot given: the next one counts from now again
    gate.handshakes = 0
    assert gate.retry_after() <= 2


def test_at_least_the_configured_wait(in_app, clock):
    gate = Admission(in_app)
    gate.retry_seconds = 7
    gate.handshakes = 1
    assert all(7 <= gate.retry_after() <= 8 for _ in range(50))


def test_a_backlog_past_the_threshold_that_is_through_in_seconds_sheds_nothing(in_app, clock):
    gate = Admission(in_app)
    gate.threshold, gate.wait_seconds = 100, 10
    gate.handshakes = 1000  # past the threshold, but through in about 3 s at the assumed rate
    assert not gate.overloaded()
    gate.handshakes = 5000  # about 17 s
    assert gate.overloaded()
    gate.wait_seconds = 0  # the count alone decides
    gate.handshakes = 101
    assert gate.overloaded()


def test_slots_are_never_further_apart_than_the_assumed_rate_makes_them(in_app, clock):
    """A handshake rate measured while boots took the CPU (a few a second) would spread thousands of
    refused charge points over many minutes, and leave the process idle while they wait."""
    gate = Admission(in_app)
    gate.retry_seconds = 1
    for _ in range(3):  # 5 handshakes a second served, for three seconds
        for _ in range(5):
            gate._served.add()
        clock.now += 1
    gate.handshakes = 0
    waits = [gate.retry_after() for _ in range(3000)]
    assert waits[-1] <= 2 + 3000 / SLOTS_PER_SECOND  # about 7 s, not 600 (3,000 / 5 a second)


def test_no_refused_charge_point_is_told_to_wait_more_than_a_minute(in_app, clock):
    gate = Admission(in_app)
    gate.retry_seconds = 1
    gate.handshakes = 1000
    waits = [gate.retry_after() for _ in range(60_000)]  # slots for 100 s
    assert max(waits) == 60 and waits.count(60) > 10_000


def test_the_first_slots_are_no_later_than_the_admission_wait_whatever_the_backlog(in_app, clock):
    """A backlog estimated at minutes (rates measured under overload) must not send the refused away for
    minutes: they come back after OCPP_ADMISSION_WAIT, and those still too early are refused again."""
    gate = Admission(in_app)
    gate.retry_seconds, gate.wait_seconds = 1, 10
    gate.handshakes = 100_000  # minutes of backlog at any rate
    assert all(10 <= gate.retry_after() <= 12 for _ in range(100))
