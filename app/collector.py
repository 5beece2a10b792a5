"""The cyclic garbage collector, in a process that holds thousands of connections for hours.

A full collection walks every object the collector tracks, and holds the hub while it does: with
19,000 connections (about a hundred objects each) that is a second, measured. What lives long is moved
out of its sight instead (gc.freeze): at start-up, what the application built; later, the survivors
of any full collection that took longer than FREEZE_AFTER_SECONDS, which are then mostly the objects of
the connections made since the one before. A frozen object is freed by its reference count alone: a
connection's objects hold no reference cycle once it ends (transport.read_messages), and are freed.

The young generations are collected less often than Python's default (after GENERATION_0 allocations
rather than 700): a storm keeps thousands of requests half-done at once, and with the default their
objects were walked again and again (12 % of a storm's time, measured with py-spy --native). Each older
generation is collected after every 3 collections of the one below: a generation of a storm's fresh
connections collected after 10 took 0.1 to 0.25 s.
"""
import gc
import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

GENERATION_0 = 20_000
OLDER_GENERATIONS_EVERY = 3
FREEZE_AFTER_SECONDS = 0.01


class Pauses(Collector):
    """The collector's pauses by generation: how many, their total and the longest, for /metrics.

    Kept in plain numbers: the callback runs wherever an allocation triggers a collection, perhaps in
    the middle of a metric's update, whose lock it must not take."""

    def __init__(self):
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = info["generation"]
        self.count[generation] += 1
        self.seconds[generation] += took
        self.longest[generation] = max(self.longest[generation], took)
        if generation == 2 and took > FREEZE_AFTER_SECONDS:
            # The survivors of a full collection: nothing among them is garbage now.
            gc.freeze()

    def collect(self):
        count = CounterMetricFamily("ocpp_gc_pauses", "Pauses of the cyclic garbage collector", labels=["generation"])
        seconds = CounterMetricFamily("ocpp_gc_pause_seconds", "Time the cyclic garbage collector held the process",
                                      labels=["generation"])
        longest = GaugeMetricFamily("ocpp_gc_pause_longest_seconds", "Longest pause of the cyclic garbage collector",
                                    labels=["generation"])
        for generation in range(3):
            count.add_metric([str(generation)], self.count[generation])
            seconds.add_metric([str(generation)], self.seconds[generation])
            longest.add_metric([str(generation)], self.longest[generation])
        yield from (count, seconds, longest)
        yield GaugeMetricFamily("ocpp_gc_frozen_objects", "Objects moved out of the collector's sight (gc.freeze)",
                                value=gc.get_freeze_count())


pauses = Pauses()


def configure() -> None:
    """Freeze what start-up made, and collect from now on as described above (the server's worker has
    had the collector off since it was forked: gunicorn.conf.py's post_fork).

    Start-up's garbage is frozen with the rest, not collected first: about 7,500 objects (1.1 MB) kept
    for good, against a collection of all of start-up's 170,000 objects, 0.13 s of every worker's
    start-up, which a fleet reconnecting after a restart waits for."""
    gc.freeze()
    gc.enable()
    gc.set_threshold(GENERATION_0, OLDER_GENERATIONS_EVERY, OLDER_GENERATIONS_EVERY)
    if pauses not in gc.callbacks:
        gc.callbacks.append(pauses)
        REGISTRY.register(pauses)
