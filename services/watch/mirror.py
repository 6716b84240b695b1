"""What this replica knows of the KV bucket: every watch (whoever serves it), with its
revision, and every replica's last heartbeat.

Separate from the bucket itself (bucket.py does the I/O) because the decisions made on it
are pure: which revision wins when the bucket's updates and this replica's own writes
arrive in any order, how many watches a tenant or an asker holds (the limits), and which
replicas are alive. Watches accepted here but not yet seen back from the bucket count too,
so two requests in quick succession cannot both take the last place.
"""

from collections import Counter
from collections.abc import Callable

from services.watch.bucket import WatchRecord


class BucketMirror:
    def __init__(self, replica_id: str, lost: Callable[[str], None]) -> None:
        self._replica_id = replica_id
        # Told of a watch this replica must no longer serve: gone, or claimed by another.
        self._lost = lost
        self.records: dict[str, tuple[WatchRecord, int]] = {}
        self.replicas: dict[str, int] = {}
        self._per_tenant: Counter[str] = Counter()
        self._per_connection: Counter[str] = Counter()
        self._unseen: dict[str, WatchRecord] = {}

    def get(self, watch_id: str) -> tuple[WatchRecord, int] | None:
        return self.records.get(watch_id)

    # Counting against the limits

    def expect(self, record: WatchRecord) -> None:
        """A watch being created here: it counts before the bucket shows it."""
        self._unseen[record.watchId] = record

    def abandon(self, watch_id: str) -> None:
        """A watch whose creation failed: it counts no more."""
        self._unseen.pop(watch_id, None)

    def watches_of_tenant(self, tenant: str) -> int:
        unseen = sum(record.tenant == tenant for record in self._unseen.values())
        return self._per_tenant[tenant] + unseen

    def watches_of_connection(self, connection: str) -> int:
        unseen = sum(record.connection == connection for record in self._unseen.values())
        return self._per_connection[connection] + unseen

    # Updates: the bucket's (any order of revisions) and this replica's own writes

    def remember(self, watch_id: str, record: WatchRecord, revision: int) -> None:
        """A write of this replica's, unless the bucket already showed a later one."""
        known = self.records.get(watch_id)
        if known is None or known[1] < revision:
            self.on_record(watch_id, record, revision)

    def on_record(self, watch_id: str, record: WatchRecord | None, revision: int) -> None:
        """The bucket's update of a watch's key (None: deleted, or not a valid record)."""
        known = self.records.get(watch_id)
        if known is not None and known[1] > revision:
            return  # an older revision than one we wrote ourselves
        if record is None:
            if known is not None:
                del self.records[watch_id]
                self._count(known[0], -1)
            self._lost(watch_id)
            return
        self._unseen.pop(watch_id, None)
        if known is None:
            self._count(record, 1)
        self.records[watch_id] = (record, revision)
        if record.owner != self._replica_id:
            # Another replica claimed it (it thought us gone), or always served it.
            self._lost(watch_id)

    def _count(self, record: WatchRecord, delta: int) -> None:
        for counter, key in (
            (self._per_tenant, record.tenant),
            (self._per_connection, record.connection),
        ):
            counter[key] += delta
            if counter[key] <= 0:
                del counter[key]

    # Replicas

    def on_replica(self, replica_id: str, at_ms: int | None) -> None:
        """The bucket's update of a replica's heartbeat (None: it said goodbye)."""
        if at_ms is None:
            self.replicas.pop(replica_id, None)
        else:
            self.replicas[replica_id] = at_ms

    def live_replicas(self, horizon_ms: int) -> set[str]:
        """The replicas heard from since `horizon_ms`, this one always among them."""
        live = {replica for replica, at in self.replicas.items() if at >= horizon_ms}
        return live | {self._replica_id}

    def silent_replicas(self, horizon_ms: int) -> list[str]:
        return [replica for replica, at in self.replicas.items() if at < horizon_ms]
