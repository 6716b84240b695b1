"""Subjects are built and parsed as the README's "Subjects" section lays them out."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.subjects import (
    IngestSubject,
    RequestKind,
    SubjectError,
    connection_subject,
    entity_subject,
    event_subject,
    filter_tenant,
    parse_ingest_subject,
    parse_request_subject,
    protocol_subject,
    request_tenant,
    tag_subject,
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
