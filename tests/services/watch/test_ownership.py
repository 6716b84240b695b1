"""Ownership (no servers): rendezvous hashing, which orphans a replica claims, leases
running out, and a claim by compare-and-set."""

from services.watch.mirror import BucketMirror
from services.watch.ownership import Ownership, expired, orphans_to_claim, owner_of
from services.watch.registry import Registry
from tests.services.watch.fakes import FakeBucket, record

TIMEOUT_S = 5.0


def test_owners_are_spread_over_the_replicas_and_move_only_from_a_leaving_one() -> None:
    replicas = ["r1", "r2", "r3"]
    owners = {f"w{n}": owner_of(f"w{n}", replicas) for n in range(300)}
    assert {owner: list(owners.values()).count(owner) > 60 for owner in replicas} == {
        "r1": True,
        "r2": True,
        "r3": True,
    }
    after = {watch: owner_of(watch, ["r1", "r2"]) for watch in owners}
    assert all(after[w] == owners[w] for w in owners if owners[w] != "r3")


def test_a_replica_claims_only_the_orphans_rendezvous_hashing_gives_it() -> None:
    live = {"r1", "r2"}
    records = {f"w{n}": (record(f"w{n}", owner="dead"), n) for n in range(40)}
    records["kept"] = (record("kept", owner="r2"), 99)
    mine = orphans_to_claim(records, live, "r1", claiming=set())
    theirs = orphans_to_claim(records, live, "r2", claiming=set())
    claimed = {r.watchId for r, _ in mine} | {r.watchId for r, _ in theirs}
    assert claimed == {f"w{n}" for n in range(40)}  # each orphan once, the live one's kept
    assert {r.watchId for r, _ in mine}.isdisjoint({r.watchId for r, _ in theirs})
    assert mine
    assert theirs
    being_claimed = {mine[0][0].watchId}
    assert mine[0] not in orphans_to_claim(records, live, "r1", claiming=being_claimed)


def test_only_the_watches_served_here_whose_lease_ran_out_expire() -> None:
    records = {
        "due": (record("due", expiresAtMs=100), 1),
        "later": (record("later", expiresAtMs=200), 2),
        "elsewhere": (record("elsewhere", expiresAtMs=100), 3),
    }
    assert expired(records, ["due", "later", "unknown"], now=150) == [records["due"]]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def ownership(
    bucket: FakeBucket, clock: Clock
) -> tuple[Ownership, BucketMirror, Registry, list[tuple[str, str]], list[str]]:
    registry = Registry()

    def lost(watch_id: str) -> None:
        registry.remove(watch_id)

    mirror = BucketMirror("me", lost=lost)
    ended: list[tuple[str, str]] = []
    marked: list[str] = []

    async def end(watch_id: str, _deliver_to: str, reason: str, _revision: int | None) -> None:
        ended.append((watch_id, reason))

    async def follow() -> None:
        # Following the changes is the follower's (test_changes.py); a claim only asks.
        return None

    role = Ownership(
        "me",
        bucket,
        mirror,
        registry,
        heartbeat_s=1.0,
        replica_timeout_s=TIMEOUT_S,
        end=end,
        mark=marked.append,
        follow=follow,
        clock=clock,
    )
    return role, mirror, registry, ended, marked


async def test_a_claim_serves_the_watch_and_reads_it_again_unless_another_was_first() -> None:
    bucket = FakeBucket()
    role, mirror, registry, _, marked = ownership(bucket, Clock(0))
    orphan = record("w1", owner="dead", version=4)
    revision = bucket.put(orphan)
    assert await role.claim(orphan, revision) is True
    assert bucket.records["w1"][0].owner == "me"
    assert registry.watches["w1"].version == 4
    assert marked == ["w1"]
    assert mirror.get("w1") == bucket.records["w1"]

    other = record("w2", owner="dead")
    stale = bucket.put(other)
    bucket.put(other.model_copy(update={"owner": "r2"}))  # r2 claimed it first
    assert await role.claim(other, stale) is False
    assert "w2" not in registry
    assert marked == ["w1"]


async def test_a_tick_beats_expires_leases_and_forgets_long_silent_replicas() -> None:
    bucket = FakeBucket()
    clock = Clock(100_000)
    role, mirror, _registry, ended, _ = ownership(bucket, clock)
    lapsed = record("w1", expiresAtMs=99_000)
    mirror.on_record("w1", lapsed, bucket.put(lapsed))
    await role.claim(*bucket.records["w1"])  # served here
    mirror.on_replica("recent", 99_000)
    mirror.on_replica("dead-long-ago", 100_000 - int(TIMEOUT_S * 1000) * 10 - 1)
    await role.tick()
    assert bucket.heartbeats == ["me"]
    assert ended == [("w1", "lease_expired")]
    assert bucket.forgotten == ["dead-long-ago"]
    assert role.live_replicas() == {"me", "recent"}
