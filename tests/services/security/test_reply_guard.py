"""The reply rule every responder applies (services/security/reply_guard.py), and the
per-tenant consumer bound's choice (consumer_warden.py): pure rules, no servers."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.js.api import ConsumerConfig, ConsumerInfo
from prometheus_client import CollectorRegistry

from services.security.consumer_warden import over_quota
from services.security.reply_guard import Refusal, ReplyGuard, asker_of, may_reply, refusal
from services.settings import Settings

# (asking tenant, reply subject, refusal in the secure layout, refusal in open dev)
TABLE = [
    ("acme", "_INBOX_TENANT.acme.pub.abc.1", None, None),
    ("acme", "_INBOX_TENANT.acme.sub.abc", None, None),
    ("acme", "_INBOX_TENANT.beta.pub.abc.1", Refusal.OTHER_TENANT, Refusal.OTHER_TENANT),
    ("acme", "_INBOX_TENANT.acme.zzz.abc", Refusal.OTHER_TENANT, Refusal.OTHER_TENANT),
    ("acme", "_INBOX_TENANT.acme.pub", Refusal.OTHER_TENANT, Refusal.OTHER_TENANT),
    ("acme", "_INBOX_TENANTX.acme.pub.w1", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
    ("acme", "_INBOX_SERVICE.operator.x", Refusal.SERVICE_INBOX, Refusal.SERVICE_INBOX),
    ("acme", "_INBOX.x", Refusal.PLAIN_INBOX, None),
    ("acme", "_INBOX.nuid.7", Refusal.PLAIN_INBOX, None),
    ("acme", "_INBOXES.x", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
    ("acme", "one.v1.beta.changes.entities.creator", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
    ("acme", "one.v1.acme.entities.creator.upsert", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
    ("acme", "$KV.ONE_WATCHES.w.abc", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
    ("acme", "$JS.API.STREAM.DELETE.ONE_INGEST", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
    ("acme", "$SRV.PING", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
    ("acme", "_INBOX_TENANT.acme.pub.>", Refusal.MALFORMED, Refusal.MALFORMED),
    ("acme", "_INBOX_TENANT.*.pub.x", Refusal.MALFORMED, Refusal.MALFORMED),
    ("acme", "_INBOX.>", Refusal.MALFORMED, Refusal.MALFORMED),
    ("acme", "_INBOX_TENANT.acme.pub..x", Refusal.MALFORMED, Refusal.MALFORMED),
    ("acme", "_INBOX_TENANT.acme.pub.x ", Refusal.MALFORMED, Refusal.MALFORMED),
    ("acme", "_INBOX.", Refusal.MALFORMED, Refusal.MALFORMED),
    ("acme", "_INBOX", Refusal.PLAIN_INBOX, Refusal.MALFORMED),
    ("acme", "", Refusal.MALFORMED, Refusal.MALFORMED),
    # Discovery: a service asker (no tenant).
    ("", "_INBOX_SERVICE.operator.abc.1", None, None),
    ("", "_INBOX_SERVICE.operator", Refusal.MALFORMED, Refusal.MALFORMED),
    ("", "_INBOX_SERVICE.ingest.abc", Refusal.SERVICE_INBOX, Refusal.SERVICE_INBOX),
    ("", "_INBOX_TENANT.acme.pub.abc", Refusal.TENANT_INBOX, Refusal.TENANT_INBOX),
    ("", "_INBOX.abc.1", Refusal.PLAIN_INBOX, None),
    ("", "$KV.ONE_WATCHES.w.abc", Refusal.NOT_AN_INBOX, Refusal.NOT_AN_INBOX),
]


@pytest.mark.parametrize(("tenant", "subject", "secure", "dev"), TABLE)
def test_the_rule(tenant: str, subject: str, secure: Refusal | None, dev: Refusal | None) -> None:
    assert refusal(tenant, subject) is secure
    assert refusal(tenant, subject, plain_inbox=True) is dev
    assert may_reply(tenant, subject) is (secure is None)
    assert may_reply(tenant, subject, plain_inbox=True) is (dev is None)


def _accepted(tenant: str, subject: str) -> bool:
    return may_reply(tenant, subject) or may_reply(tenant, subject, plain_inbox=True)


_TOKENS = st.sampled_from(
    ["_INBOX", "_INBOX_TENANT", "_INBOX_SERVICE", "_INBOX_TENANTX", "acme", "beta", "pub",
     "sub", "operator", "*", ">", "", "$KV", "$JS", "one", "v1", "x y", "w\t"]
)  # fmt: skip


@given(st.lists(_TOKENS, max_size=6).map(".".join))
def test_anything_accepted_is_an_inbox_of_the_asker(subject: str) -> None:
    for tenant in ("acme", ""):
        if not _accepted(tenant, subject):
            continue
        tokens = subject.split(".")
        assert all(tokens)
        assert not set(subject) & set("*> \t")
        if tenant:
            assert tokens[0] == "_INBOX" or tokens[:2] == ["_INBOX_TENANT", "acme"]
            assert tokens[0] == "_INBOX" or tokens[2] in ("pub", "sub")
        else:
            assert tokens[0] == "_INBOX" or tokens[:2] == ["_INBOX_SERVICE", "operator"]


@given(st.text(max_size=60), st.sampled_from(["acme", "beta", ""]))
def test_any_subject_gets_an_answer_or_a_reason(subject: str, tenant: str) -> None:
    reason = refusal(tenant, subject)
    assert reason is None or reason in Refusal
    if subject.startswith("_INBOX_TENANT.beta.") and tenant == "acme":
        assert reason is not None


def test_refusals_are_counted_per_responder_and_reason() -> None:
    registry = CollectorRegistry()
    query = ReplyGuard(registry, "query", plain_inbox=False)
    watch = ReplyGuard(registry, "watch", plain_inbox=False)  # the same metric, shared
    assert query.allows("acme", "_INBOX_TENANT.acme.pub.x.1")
    assert not query.allows("acme", "$KV.ONE_WATCHES.w.x")
    assert not query.allows("acme", "one.v1.beta.changes.x")
    assert not watch.allows("acme", "_INBOX.x")

    def refused(responder: str, reason: Refusal) -> float | None:
        labels = {"responder": responder, "reason": reason.value}
        return registry.get_sample_value("one_bus_replies_refused_total", labels)

    assert refused("query", Refusal.NOT_AN_INBOX) == 2
    assert refused("watch", Refusal.PLAIN_INBOX) == 1
    assert refused("watch", Refusal.NOT_AN_INBOX) == 0


def test_a_write_outcome_may_also_go_to_the_operator_replaying_on_a_tenants_subject() -> None:
    # The operator publishes replays on the tenant's ingest subjects and asks there.
    outcomes = ReplyGuard(CollectorRegistry(), "outcomes", plain_inbox=False, service_askers=True)
    assert outcomes.allows("acme", "_INBOX_SERVICE.operator.abc.1")
    assert outcomes.allows("acme", "_INBOX_TENANT.acme.pub.abc.1")
    # Still never another tenant's inbox, another service's, or the bus's own subjects.
    assert not outcomes.allows("acme", "_INBOX_TENANT.beta.pub.abc.1")
    assert not outcomes.allows("acme", "_INBOX_SERVICE.ingest.abc")
    assert not outcomes.allows("acme", "one.v1.acme.changes.entities.creator")
    # Queries do not take it: a tenant's query is never answered at a service's inbox.
    assert refusal("acme", "_INBOX_SERVICE.operator.abc.1") is Refusal.SERVICE_INBOX


def test_one_asker_is_one_identity_in_the_secure_layout() -> None:
    # Whatever a tenant's client puts after its prefix, the prefix is its identity's.
    assert asker_of("_INBOX_TENANT.acme.pub.conn1.42", "acme") == "_INBOX_TENANT.acme.pub"
    assert asker_of("_INBOX_TENANT.acme.pub.other.9.9", "acme") == "_INBOX_TENANT.acme.pub"
    # Open dev: the connection's nuid, the client's word for it.
    assert asker_of("_INBOX.conn1.42", "acme") == "_INBOX.conn1"
    assert asker_of("_INBOX.req1", "acme") == "_INBOX.req1"


def test_a_tenants_newest_consumers_beyond_its_quota_are_the_ones_to_go() -> None:
    def consumer(name: str, filter_subject: str, second: int) -> ConsumerInfo:
        return ConsumerInfo(
            name=name,
            stream_name="ONE_CHANGES",
            config=ConsumerConfig(filter_subject=filter_subject),
            created=datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC),
        )

    consumers = [
        consumer("a3", "one.v1.acme.changes.>", 3),
        consumer("a1", "one.v1.acme.changes.>", 1),
        consumer("a2", "one.v1.acme.changes.entities.>", 2),
        consumer("b1", "one.v1.beta.changes.>", 4),
        consumer("service", "one.v1.*.changes.>", 0),  # the service's own: never counted
        consumer("odd", "elsewhere.>", 0),
    ]
    assert over_quota(consumers, lambda tenant: 2) == ["a3"]
    assert sorted(over_quota(consumers, lambda tenant: 0)) == ["a1", "a2", "a3", "b1"]


def test_plain_inboxes_are_answered_only_where_clients_have_no_prefix_of_their_own() -> None:
    assert Settings().replies_to_plain_inbox  # open dev: anonymous
    assert not Settings(nats_user="svc", nats_password="x").replies_to_plain_inbox
    assert not Settings(nats_credentials_file=Path("spec.json")).replies_to_plain_inbox
    assert Settings(nats_user="svc", plain_inbox_replies=True).replies_to_plain_inbox
    assert not Settings(plain_inbox_replies=False).replies_to_plain_inbox
