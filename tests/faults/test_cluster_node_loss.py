"""Scenario 4: a 3-node nats-server cluster with R3 streams loses one node during ingest.

The node holding the ingest stream's leader is SIGKILLed, as a crashed machine would be.
The other two elect new leaders; the service's connection fails over to a surviving node
(ONE_NATS_URL lists all three); publishers retry what timed out meanwhile. The node stays
down: two of three is a quorum, and nothing acknowledged may be lost.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.nats_cluster import NatsCluster
from tests.faults.scenario import Scenario
from tests.faults.workload import generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


@pytest.fixture
async def mongo_only(tmp_path: Path) -> AsyncIterator[EmbeddedServers]:
    servers = EmbeddedServers(tmp_path / "mongo")
    try:
        await servers.start_mongo()
        yield servers
    finally:
        await servers.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    async with NatsCluster(tmp_path / "nats") as cluster:
        yield cluster


async def test_losing_the_stream_leader_node_of_an_r3_cluster_loses_nothing(
    cluster: NatsCluster, mongo_only: EmbeddedServers, tmp_path: Path
) -> None:
    workload = generate(seed=4)
    async with Scenario(
        "3-node cluster, R3, stream leader's node SIGKILLed",
        cluster.urls,
        mongo_only.mongodb_uri,
        tmp_path / "logs",
        replicas=3,
    ) as scenario:
        publisher = scenario.publisher()
        publishing = asyncio.create_task(publisher.publish(workload.messages))
        await scenario.start_ingest()
        await scenario.until_ingested(int(workload.distinct * 0.35))
        await scenario.until_in_flight()
        info = await scenario.js.stream_info(scenario.settings.ingest_stream)
        assert info.cluster is not None
        assert len(info.cluster.replicas or []) == 2  # R3: a leader and two replicas
        leader = next(node for node in cluster.nodes if node.name == info.cluster.leader)
        leader.kill()
        await publishing
        comparison = await scenario.settle(publisher)
        info = await scenario.js.stream_info(scenario.settings.ingest_stream)
        assert info.cluster is not None
        assert info.cluster.leader != leader.name
    assert comparison.exact, comparison.explain()
