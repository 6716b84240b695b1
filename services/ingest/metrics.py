"""What the ingest path counts, for Prometheus."""

from prometheus_client import CollectorRegistry, Counter, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "one_bus_ingest_messages",
            "Ingest messages by subject kind and outcome: written (stored, or ignored as "
            "stale), dead_lettered, retried.",
            ["kind", "outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "one_bus_dead_letters",
            "Messages dead-lettered, by reason.",
            ["reason"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "one_bus_ingest_batch_seconds",
            "Time to decode, write, publish changes and ack one batch.",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.batch_size = Histogram(
            "one_bus_ingest_batch_size",
            "Messages per pulled batch.",
            registry=registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        )
        self.store_retries = Counter(
            "one_bus_store_transient_failures",
            "Batches nak'ed because the store or NATS was unavailable.",
            registry=registry,
        )
        # Counted once per message: `labels()` (a lock and keyword handling) each time
        # was a fiftieth of ingest's CPU. The counter keeps a child per label set anyway.
        self._messages_by: dict[tuple[str, str], Counter] = {}

    def count(self, subject: str, outcome: str, n: int = 1) -> None:
        tokens = subject.split(".", 4)
        kind = tokens[3] if len(tokens) > 3 else "unknown"
        child = self._messages_by.get((kind, outcome))
        if child is None:
            child = self._messages_by[kind, outcome] = self.messages.labels(kind, outcome)
        child.inc(n)
