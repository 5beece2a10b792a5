"""The garbage collector's policy (app/collector.py): what survives a long full collection is frozen, out
of the next ones' sight; a short one freezes nothing; the pauses are on /metrics."""
import gc

import pytest
from prometheus_client import REGISTRY, generate_latest

from app import collector


@pytest.fixture
def configured():
    thresholds = gc.get_threshold()
    collector.configure()
    try:
        yield collector.pauses
    finally:
        gc.callbacks.remove(collector.pauses)
        REGISTRY.unregister(collector.pauses)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def test_the_survivors_of_a_long_full_collection_are_frozen(configured):
    before, full_collections = gc.get_freeze_count(), configured.count[2]
    long_lived = [[n] for n in range(400_000)]  # 400,000 tracked objects: a collection of tens of ms
    gc.collect()
    assert configured.count[2] == full_collections + 1
    assert configured.longest[2] > collector.FREEZE_AFTER_SECONDS
    frozen = gc.get_freeze_count()
    assert frozen >= before + len(long_lived)
    gc.collect()  # nothing left to walk: short, freezes nothing
    assert gc.get_freeze_count() <= frozen
    text = generate_latest(REGISTRY).decode()
    assert f"ocpp_gc_frozen_objects {float(gc.get_freeze_count())}" in text
    assert 'ocpp_gc_pauses_total{generation="2"}' in text
