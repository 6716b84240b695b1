"""What the watch side counts, for Prometheus (no labels: nothing a caller can multiply)."""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class WatchMetrics:
    def __init__(self, registry: CollectorRegistry, served: Callable[[], int]) -> None:
        self.served = Gauge("one_bus_watches", "Watches this replica serves.", registry=registry)
        self.served.set_function(served)
        self.changes = Counter(
            "one_bus_watch_changes", "Changes matched against the watches.", registry=registry
        )
        self.reads = Counter(
            "one_bus_watch_reads",
            "Store reads of watched queries (first results, re-evaluations, takeovers).",
            registry=registry,
        )
        self.pushes = Counter(
            "one_bus_watch_pushes", "New results pushed to watchers.", registry=registry
        )
