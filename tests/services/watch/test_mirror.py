"""The mirror of the bucket (pure): which revision wins, what counts against the limits,
which replicas are alive, and when this replica must let a watch go."""

from services.watch.mirror import BucketMirror
from tests.services.watch.fakes import record


def mirror() -> tuple[BucketMirror, list[str]]:
    lost: list[str] = []
    return BucketMirror("me", lost=lost.append), lost


def test_a_later_revision_wins_whichever_arrives_first() -> None:
    known, _ = mirror()
    known.remember("w1", record(version=3), 7)
    # The bucket's update of revision 5 arrives after our own write of revision 7.
    known.on_record("w1", record(version=2), 5)
    assert known.get("w1") == (record(version=3), 7)
    # Our write is older than what the bucket already showed: the bucket's stays.
    known.on_record("w1", record(version=4), 9)
    known.remember("w1", record(version=3), 8)
    assert known.get("w1") == (record(version=4), 9)


def test_watches_count_per_tenant_and_connection_from_creation_to_deletion() -> None:
    known, _ = mirror()
    known.expect(record("w1"))
    assert (known.watches_of_tenant("acme"), known.watches_of_connection("_INBOX.c1")) == (1, 1)
    # Seen back from the bucket: counted once, not twice.
    known.on_record("w1", record("w1"), 1)
    known.on_record("w2", record("w2", tenant="globex", connection="_INBOX.c2"), 2)
    assert known.watches_of_tenant("acme") == 1
    assert known.watches_of_tenant("globex") == 1
    assert known.watches_of_connection("_INBOX.c1") == 1
    known.on_record("w1", None, 3)
    assert known.watches_of_tenant("acme") == 0
    assert known.watches_of_connection("_INBOX.c1") == 0


def test_a_creation_that_failed_counts_no_more() -> None:
    known, _ = mirror()
    known.expect(record("w1"))
    known.abandon("w1")
    assert known.watches_of_tenant("acme") == 0


def test_a_watch_deleted_or_claimed_by_another_replica_is_let_go() -> None:
    known, lost = mirror()
    known.on_record("w1", record("w1"), 1)
    known.on_record("w2", record("w2"), 2)
    assert lost == []
    known.on_record("w1", None, 3)
    known.on_record("w2", record("w2", owner="other"), 4)
    assert lost == ["w1", "w2"]
    assert known.get("w2") == (record("w2", owner="other"), 4)


def test_replicas_are_live_while_their_heartbeat_is_recent_and_this_one_always() -> None:
    known, _ = mirror()
    known.on_replica("fresh", 10_000)
    known.on_replica("silent", 2_000)
    known.on_replica("gone", 10_000)
    known.on_replica("gone", None)
    assert known.live_replicas(horizon_ms=5_000) == {"me", "fresh"}
    assert known.silent_replicas(horizon_ms=5_000) == ["silent"]
