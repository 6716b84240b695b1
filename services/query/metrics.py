"""What the query responder counts, for Prometheus: labelled by query name and outcome
(both from closed lists), never by subject, so no caller can create new series."""

from prometheus_client import CollectorRegistry, Histogram


class QueryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "one_bus_query_seconds",
            "Time from a request's arrival to its reply, by query and outcome (ok or the "
            "error code).",
            ["query", "outcome"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
