"""One fault scenario's world: its own servers, `one-bus serve` processes, a publisher, a check.

    async with Scenario("kill", [nats_url], mongodb_uri, tmp_path) as scenario:
        ingest = await scenario.start_ingest()
        ...inject a fault...
        comparison = await scenario.settle(publisher)

The ingest processes are configured by environment only, as containers are, with short
acknowledgement and retry timings so that redeliveries happen within a test's time.
"""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.subjects import DLQ_WILDCARD, PREFIX
from services.ingest.lanes import ingest_progress
from services.runtime.streams import declare_streams
from services.settings import Settings
from tests.faults.checker import Comparison, StreamMessage, read_store, read_stream
from tests.faults.ingest_process import IngestProcess
from tests.faults.oracle import expected_state
from tests.faults.publisher import Publisher
from tests.fixtures.waiting import eventually


@dataclass(frozen=True)
class ScenarioReport:
    """One row of the README's reliability table."""

    name: str
    published: int  # publish calls: duplicates and the publisher's retries included
    in_stream: int  # distinct messages JetStream acknowledged
    stored: int  # records in the four collections
    dead_lettered: int
    lost: int
    duplicated: int
    wrong: int
    seconds: float


# Filled by the scenarios, printed at the end of the run (conftest.pytest_terminal_summary).
REPORTS: list[ScenarioReport] = []


class Scenario:
    def __init__(
        self,
        name: str,
        nats_urls: list[str],
        mongodb_uri: str,
        log_dir: Path,
        *,
        replicas: int = 1,
        **overrides: str,
    ) -> None:
        self.name = name
        self.nats_urls = nats_urls
        self.log_dir = log_dir
        self.settings = Settings(
            nats_url=",".join(nats_urls),
            mongodb_uri=mongodb_uri,
            mongodb_db=f"faults_{uuid.uuid4().hex[:8]}",
            stream_replicas=replicas,
        )
        self.env = {
            "ONE_NATS_URL": self.settings.nats_url,
            "ONE_MONGODB_URI": mongodb_uri,
            "ONE_MONGODB_DB": self.settings.mongodb_db,
            "ONE_STREAM_REPLICAS": str(replicas),
            # Short timings: a killed replica's batch comes back within seconds.
            "ONE_ACK_WAIT_S": "5",
            "ONE_BATCH_SIZE": "100",
            "ONE_RETRY_BASE_DELAY_S": "0.2",
            "ONE_RETRY_MAX_DELAY_S": "2",
            "ONE_MONGODB_TIMEOUT_S": "2",
            "ONE_PUBLISH_ACK_TIMEOUT_S": "3",
            "ONE_DRAIN_TIMEOUT_S": "15",
            **overrides,
        }
        self.processes: list[IngestProcess] = []
        self._started = time.monotonic()
        self._nc: NatsClient | None = None
        self._mongo: AsyncMongoClient[dict[str, Any]] | None = None

    @property
    def nc(self) -> NatsClient:
        assert self._nc is not None
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream(timeout=5)

    @property
    def database(self) -> AsyncDatabase[dict[str, Any]]:
        assert self._mongo is not None
        return self._mongo[self.settings.mongodb_db]

    def publisher(self, **options: Any) -> Publisher:
        return Publisher(self.js, **options)

    async def __aenter__(self) -> Self:
        self._nc = await nats.connect(
            servers=self.nats_urls, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        self._mongo = AsyncMongoClient(self.settings.mongodb_uri)
        # Streams first, so that publishing can start before any ingest process is up.
        await declare_streams(self.js, self.settings)
        self._started = time.monotonic()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await asyncio.gather(*(process.stop() for process in self.processes))
        if self._nc is not None:
            await self._nc.close()
        if self._mongo is not None:
            await self._mongo.close()

    async def query(self, tenant: str, name: str, request: dict[str, Any]) -> dict[str, Any]:
        """Ask the running service's query responder, as any client would."""
        assert self._nc is not None
        subject = f"one.v1.{tenant}.query.{name}"
        reply = await self._nc.request(subject, json.dumps(request).encode(), timeout=10)
        answer: dict[str, Any] = json.loads(reply.data)
        return answer

    async def start_ingest(self, name: str = "ingest") -> IngestProcess:
        process = IngestProcess(f"{name}-{len(self.processes)}", self.env, self.log_dir)
        self.processes.append(process)
        await process.start()
        return process

    async def consumer_state(self) -> tuple[int, int, int]:
        """(highest stream seq delivered, pending, delivered but not acked); zeros if unknown.

        Not the ack floor: after a kill it stays put until the dead replica's batch is
        redelivered, while its successor carries on with later messages.
        """
        try:
            progress = await ingest_progress(self.nc, self.settings)
        except (NatsError, TimeoutError):
            return 0, 0, 0  # not created yet, or NATS is (re)starting
        # A tenant without its lane yet holds everything it has pending.
        pending = progress.pending + progress.missing
        return progress.delivered, pending, progress.ack_pending

    async def ack_floor(self) -> int:
        """The stream sequence up to which every message is acknowledged (or terminated)."""
        return (await ingest_progress(self.nc, self.settings)).ack_floor

    async def dead_letters(self) -> list[StreamMessage]:
        return await read_stream(self.js, self.settings.dlq_stream, DLQ_WILDCARD)

    async def until_ingested(self, at_least: int, timeout_s: float = 120) -> int:
        """Until the ingest consumer has delivered up to stream sequence `at_least`."""
        delivered, *_ = await eventually(
            self.consumer_state, lambda s: s[0] >= at_least, timeout_s=timeout_s, interval_s=0.05
        )
        assert delivered >= at_least, f"ingest stuck at {delivered}:\n{self._logs()}"
        return delivered

    async def until_in_flight(self, timeout_s: float = 60) -> None:
        """Until some batch is delivered and not yet acknowledged: a fault lands mid-batch."""
        state = await eventually(
            self.consumer_state, lambda s: s[2] > 0, timeout_s=timeout_s, interval_s=0.01
        )
        assert state[2] > 0, f"nothing in flight: {state}"

    async def settle(self, publisher: Publisher, timeout_s: float = 180) -> Comparison:
        """Wait until everything published is processed, then compare the store exactly."""
        state = await eventually(
            self.consumer_state,
            lambda s: s[0] > 0 and s[1] == 0 and s[2] == 0,
            timeout_s=timeout_s,
            interval_s=0.25,
        )
        assert state[1:] == (0, 0), f"ingest did not drain: {state}\n{self._logs()}"
        stream = await read_stream(self.js, self.settings.ingest_stream, f"{PREFIX}.>")
        # JetStream stored exactly what it acknowledged: nothing lost before the service.
        assert {m.seq for m in stream} == set(publisher.log.by_seq)
        expected = expected_state(publisher.log.by_seq, {m.seq: m.received_ms for m in stream})

        async def compare() -> Comparison:
            letters = await self.dead_letters()
            return Comparison(expected, await read_store(self.database), letters)

        # Drained means acked, and every ack follows its write: one comparison should do,
        # the polling covers a dead letter or write landing a moment after its ack.
        comparison = await eventually(compare, lambda c: c.exact, timeout_s=20, interval_s=1)
        REPORTS.append(
            ScenarioReport(
                self.name,
                publisher.log.attempts,
                len(stream),
                comparison.records,
                len(comparison.dead_letters),
                comparison.lost,
                comparison.duplicated,
                comparison.wrong,
                round(time.monotonic() - self._started, 1),
            )
        )
        return comparison

    def _logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in self.processes)
