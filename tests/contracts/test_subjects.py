"""Subjects are built and parsed as the README's "Subjects" section lays them out."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.subjects import (
    ALL_TENANTS,
    INGEST_STREAM,
    WATCH_BUCKET,
    IngestSubject,
    RequestKind,
    SubjectError,
    connection_subject,
    entity_subject,
    event_subject,
    filter_tenant,
    js_api,
    kind_wildcard,
    kv_stream,
    kv_subject,
    parse_ingest_subject,
    parse_request_subject,
    protocol_subject,
    qualified,
    request_tenant,
    tag_subject,
    tenant_ingest_stream,
    tenant_prefix,
    tenant_wildcard,
)


def test_built_subjects_parse_back() -> None:
    assert parse_ingest_subject(entity_subject("acme", "creator", "upsert")) == IngestSubject(
        "acme", "entities", "creator", "upsert"
    )
    assert parse_ingest_subject(connection_subject("acme", "owns", "delete")) == IngestSubject(
        "acme", "connections", "owns", "delete"
    )
    assert parse_ingest_subject(tag_subject("acme", "set")) == IngestSubject(
        "acme", "tags", None, "set"
    )
    assert parse_ingest_subject(event_subject("acme", "payment_event")) == IngestSubject(
        "acme", "events", "payment_event", None
    )
    assert parse_ingest_subject(protocol_subject("acme", "A2A", "SendMessage")) == IngestSubject(
        "acme", "protocols", "a2a", "SendMessage"
    )


@pytest.mark.parametrize(
    "subject",
    [
        "one.v2.acme.entities.creator.upsert",
        "one.v1.acme.entities.creator",
        "one.v1.acme.entities.creator.upsert.extra",
        "one.v1.acme.entities.wizard.upsert",
        "one.v1.acme.entities.creator.merge",
        "one.v1.acme.connections.likes.create",
        "one.v1.acme.connections.owns.upsert",
        "one.v1.acme.tags.add",
        "one.v1.acme.events.payment_processed",
        "one.v1.acme.events",
        "one.v1.acme.things.creator.upsert",
        "one.v1.ac:me.entities.creator.upsert",
        "one.v1." + "t" * 65 + ".entities.creator.upsert",
        "one.v1.acme.protocols.a2a",
        "one.v1.acme.protocols.a2a.bad~type",
        "",
    ],
)
def test_invalid_subjects_are_refused_with_a_reason(subject: str) -> None:
    with pytest.raises(SubjectError, match=r".+"):
        parse_ingest_subject(subject)


@given(st.text(max_size=200))
def test_any_text_either_parses_or_raises_subject_error(subject: str) -> None:
    try:
        parsed = parse_ingest_subject(subject)
    except SubjectError:
        return
    assert subject.startswith(f"one.v1.{parsed.tenant}.{parsed.kind}")


@pytest.mark.parametrize(
    ("subject", "kind", "expected"),
    [
        ("one.v1.acme.query.entities.get", "query", ("acme", "entities.get")),
        ("one.v1.a-b_C.watch.renew", "watch", ("a-b_C", "renew")),
    ],
)
def test_request_subjects_name_the_tenant_and_what_is_asked(
    subject: str, kind: RequestKind, expected: tuple[str, str]
) -> None:
    assert parse_request_subject(subject, kind) == expected


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("one.v1.acme.query", "query"),
        ("one.v2.acme.query.entities.get", "query"),
        ("one.v1.acme.query.entities.get", "watch"),
        ("one.v1.a!b.watch.entities.get", "watch"),
    ],
)
def test_other_subjects_are_not_requests_of_that_kind(subject: str, kind: RequestKind) -> None:
    with pytest.raises(SubjectError):
        parse_request_subject(subject, kind)


def test_the_tenant_a_request_is_for_and_a_filter_is_limited_to() -> None:
    assert request_tenant("one.v1.acme.query.entities.get") == "acme"
    assert request_tenant("one.v1.a$b.watch.renew") == "a$b"  # as it came, valid or not
    assert filter_tenant("one.v1.acme.changes.>") == "acme"
    assert filter_tenant("one.v1.*.changes.>") is None
    assert filter_tenant("other.v1.acme.changes.>") is None
    assert filter_tenant("one.v1") is None


def test_a_subject_under_a_tenant_is_made_full_and_a_full_one_is_kept() -> None:
    assert qualified("acme", "entities.creator.upsert") == "one.v1.acme.entities.creator.upsert"
    assert qualified("acme", "one.v1.other.tags.set") == "one.v1.other.tags.set"


def test_wildcards_name_one_tenant_or_every_tenant() -> None:
    assert tenant_wildcard("acme") == "one.v1.acme.>"
    assert tenant_prefix("acme") == "one.v1.acme."
    assert kind_wildcard("acme", "changes") == "one.v1.acme.changes.>"
    assert kind_wildcard(ALL_TENANTS, "dlq") == "one.v1.*.dlq.>"


def test_stream_bucket_and_api_names() -> None:
    assert tenant_ingest_stream(INGEST_STREAM, "acme") == "ONE_INGEST_acme"
    assert kv_stream(WATCH_BUCKET) == "KV_ONE_WATCHES"
    assert kv_subject(WATCH_BUCKET, ">") == "$KV.ONE_WATCHES.>"
    assert js_api("CONSUMER", "INFO", INGEST_STREAM, "*") == "$JS.API.CONSUMER.INFO.ONE_INGEST.*"
