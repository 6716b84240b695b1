"""The query responder as a NATS micro service (ADR-32): identity, endpoints, statistics.

Micro tooling (`nats micro ls|info|stats`, any ADR-32 client) asks `$SRV.PING`,
`$SRV.INFO` and `$SRV.STATS`, each also as `$SRV.<verb>.<name>` and
`$SRV.<verb>.<name>.<id>`; every replica answers for itself. The bodies are nats.micro's
own models, so they are what every micro client reads.

nats.micro itself is not used to serve the endpoints: it runs each endpoint's requests one
at a time (one subscription callback) and counts an error only when the handler raises,
while the responder answers many requests at once and returns typed error bodies. The
responder (subscriber.py) serves the endpoints and reports each answer here.
"""

import importlib.metadata
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from nats.micro.service import (
    EndpointInfo,
    EndpointStats,
    ServiceInfo,
    ServicePing,
    ServiceStats,
    ServiceVerb,
    control_subject,
)
from nats.nuid import NUID

from contracts.subjects import ALL_TENANTS, query_subject

SERVICE_NAME: Final = "one-bus-query"
DESCRIPTION: Final = "ONE Bus queries: request/reply lookups on one.v1.<tenant>.query.<name>"


def _version() -> str:
    try:
        return importlib.metadata.version("one-bus")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One query as a micro endpoint: `entities.get` is `entities_get` on its subject."""

    query: str

    @property
    def name(self) -> str:
        # Micro endpoint names are `[A-Za-z0-9_-]+`.
        return self.query.replace(".", "_")

    @property
    def subject(self) -> str:
        # Any tenant: the tenant token is checked when the request is dispatched.
        return query_subject(ALL_TENANTS, self.query)


@dataclass(slots=True)
class _Counters:
    num_requests: int = 0
    num_errors: int = 0
    last_error: str = ""
    processing_time_ns: int = 0


class MicroService:
    """One replica's identity and per-endpoint statistics (no I/O)."""

    def __init__(self, queries: Iterable[str], queue_group: str) -> None:
        self.id: str = NUID().next().decode()
        self.name = SERVICE_NAME
        self.version = _version()
        self.queue_group = queue_group
        self.started = datetime.now(UTC)
        self.endpoints = [Endpoint(query) for query in queries]
        self._counters = {endpoint.query: _Counters() for endpoint in self.endpoints}

    def record(self, query: str, elapsed_ns: int, error: str | None) -> None:
        """Count one answered request of `query`; `error` is `"<status>:<message>"`."""
        counters = self._counters[query]
        counters.num_requests += 1
        counters.processing_time_ns += elapsed_ns
        if error is not None:
            counters.num_errors += 1
            counters.last_error = error

    def control_subjects(self) -> list[tuple[ServiceVerb, str]]:
        """The nine discovery subjects this replica answers on."""
        return [
            (verb, control_subject(verb, name=name, id=instance))
            for verb in ServiceVerb
            for name, instance in ((None, None), (self.name, None), (self.name, self.id))
        ]

    def answer(self, verb: ServiceVerb) -> bytes:
        bodies = {
            ServiceVerb.PING: self.ping,
            ServiceVerb.INFO: self.info,
            ServiceVerb.STATS: self.stats,
        }
        return json.dumps(bodies[verb]()).encode()

    def ping(self) -> dict[str, object]:
        return ServicePing(id=self.id, name=self.name, version=self.version).to_dict()

    def info(self) -> dict[str, object]:
        return ServiceInfo(
            name=self.name,
            id=self.id,
            version=self.version,
            description=DESCRIPTION,
            endpoints=[
                EndpointInfo(
                    name=endpoint.name,
                    subject=endpoint.subject,
                    queue_group=self.queue_group,
                    metadata={"query": endpoint.query},
                )
                for endpoint in self.endpoints
            ],
        ).to_dict()

    def stats(self) -> dict[str, object]:
        endpoints = []
        for endpoint in self.endpoints:
            counters = self._counters[endpoint.query]
            endpoints.append(
                EndpointStats(
                    name=endpoint.name,
                    subject=endpoint.subject,
                    queue_group=self.queue_group,
                    num_requests=counters.num_requests,
                    num_errors=counters.num_errors,
                    last_error=counters.last_error,
                    processing_time=counters.processing_time_ns,
                    average_processing_time=counters.processing_time_ns
                    // max(counters.num_requests, 1),
                )
            )
        return ServiceStats(
            id=self.id,
            name=self.name,
            version=self.version,
            started=self.started,
            endpoints=endpoints,
        ).to_dict()
