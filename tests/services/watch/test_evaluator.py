"""Watched queries read through the store port, and a change the matcher passes over never
alters a watch's result (on the in-memory store: no servers)."""

import random
from typing import Any

from contracts.queries import (
    EntitiesGet,
)
from services.settings import Settings
from services.watch.evaluator import Evaluator, query_key
from services.watch.matcher import page_edge, result_keys
from services.watch.registry import Registry, Watched
from tests.services.store.memory_port import memory_port
from tests.services.store.port_suite import T, upsert
from tests.services.store.workload import QUERIES, random_command


async def test_a_watched_query_reads_what_the_query_answers() -> None:
    store = memory_port()
    evaluator = Evaluator(store.reads, Settings())
    missing = await evaluator.evaluate(T, "entities.get", EntitiesGet(id="e1"))
    assert missing.result is None
    await store.write(upsert("e1", 10))
    found = await evaluator.evaluate(T, "entities.get", EntitiesGet(id="e1"))
    assert found.result["id"] == "e1"
    assert found.digest != missing.digest
    assert evaluator.reads == 2


async def test_a_change_the_matcher_passes_over_never_alters_a_result() -> None:
    rng = random.Random(7)
    store = memory_port()
    evaluator = Evaluator(store.reads, Settings())
    registry = Registry()
    watches: dict[str, Watched] = {}
    for n, (name, request) in enumerate(QUERIES):
        watch = Watched(f"w{n}", T, name, request, "_INBOX.x", query_key(T, name, request))
        registry.add(watch)
        watches[watch.watch_id] = watch
    results: dict[str, Any] = {}

    async def evaluate(watch: Watched) -> None:
        evaluation = await evaluator.evaluate(T, watch.name, watch.request)
        results[watch.watch_id] = evaluation.result
        keys = result_keys(watch.name, watch.request, evaluation.result)
        registry.set_result(watch, keys, page_edge(watch.name, watch.request, evaluation.result))

    for watch in watches.values():
        await evaluate(watch)
    changed = 0
    for n in range(300):
        outcome = await store.write(
            random_command(rng, n), subject_type="creator" if rng.random() < 0.5 else None
        )
        affected: set[str] = set()
        for change in outcome.changes:
            affected |= registry.candidates(T, change.collection, change.document)
        for watch_id, watch in watches.items():
            before = results[watch_id]
            await evaluate(watch)
            if results[watch_id] != before:
                changed += 1
                assert watch_id in affected, (watch.name, watch.request, outcome.changes)
    # The workload moves most watches many times: the test has teeth.
    assert changed > 100
