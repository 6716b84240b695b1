"""Hypothesis strategies for hostile input on every ingest subject kind, each with the DLQ
reason it must get.

A hostile message starts as a valid payload for its subject (entities, connections, tags,
events, protocols) and is then broken in one way that is bad input by definition, so the
expected reason is known exactly: cut short or not UTF-8 (`malformed_json`), a required
field dropped, given the wrong type or an unknown field added (`invalid_payload`), a type
or tenant that disagrees with the subject (`subject_mismatch`), a subject naming nothing
(`bad_subject`), a protocol message without its envelope (`invalid_envelope`).
"""

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from contracts.ontology import ENTITY_TYPES
from contracts.subjects import CONNECTION_OPS, ENTITY_OPS, TAG_OPS

TENANT = "acme"
# The envelope a protocol message needs besides Nats-Msg-Id (docs/protocols.md).
ENVELOPE = (("One-Actor-Id", "agent-1"),)


@dataclass(frozen=True)
class Hostile:
    suffix: str  # the subject after `one.v1.<tenant>.`
    data: bytes
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Base:
    """A valid payload for a subject, and what its fields must be."""

    suffix: str
    payload: dict[str, Any]
    strings: tuple[str, ...]  # required string fields
    integers: tuple[str, ...]  # required integer fields


ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:~-]{0,24}", fullmatch=True)
times = st.integers(min_value=0, max_value=2**53 - 1)
words = st.text(min_size=1, max_size=40)
entity_types = st.sampled_from(ENTITY_TYPES)


@st.composite
def bases(draw: st.DrawFn) -> Base:
    kind = draw(st.sampled_from(["upsert", "delete", "connection", "tag", "event"]))
    if kind == "upsert":
        entity_type = draw(entity_types)
        payload = {
            "id": draw(ids),
            "type": entity_type,
            "name": draw(words),
            "updatedAt": draw(times),
            "actorId": draw(ids),
        }
        return Base(
            f"entities.{entity_type}.upsert",
            payload,
            ("id", "type", "name", "actorId"),
            ("updatedAt",),
        )
    if kind == "delete":
        op = draw(st.sampled_from(["delete", "archive"]))
        payload = {"id": draw(ids), "updatedAt": draw(times), "actorId": draw(ids)}
        suffix = f"entities.{draw(entity_types)}.{op}"
        return Base(suffix, payload, ("id", "actorId"), ("updatedAt",))
    if kind == "connection":
        relationship = draw(st.sampled_from(["owns", "following", "authored"]))
        payload = {
            "id": draw(ids),
            "fromEntityId": draw(ids),
            "toEntityId": draw(ids),
            "relationshipType": relationship,
        }
        strings = ("id", "fromEntityId", "toEntityId", "relationshipType")
        return Base(f"connections.{relationship}.create", payload, strings, ())
    if kind == "tag":
        payload = {"entityId": draw(ids), "key": draw(words), "value": draw(words)}
        op = draw(st.sampled_from(TAG_OPS))
        return Base(f"tags.{op}", payload, ("entityId", "key", "value"), ())
    payload = {
        "id": draw(ids),
        "type": "user_login",
        "actorId": draw(ids),
        "timestamp": draw(times),
        "metadata": {},
    }
    return Base("events.user_login", payload, ("id", "type", "actorId"), ("timestamp",))


def _encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


@st.composite
def malformed(draw: st.DrawFn) -> Hostile:
    base = draw(bases())
    text = _encode(base.payload)
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=1, max_value=len(text) - 1))
        return Hostile(base.suffix, text[:cut], "malformed_json")  # an object never closed
    return Hostile(base.suffix, b"\xff" + draw(st.binary(max_size=64)), "malformed_json")


@st.composite
def invalid(draw: st.DrawFn) -> Hostile:
    base = draw(bases())
    payload = dict(base.payload)
    how = draw(st.sampled_from(["drop", "wrong_type", "unknown_field"]))
    if how == "drop":
        del payload[draw(st.sampled_from(base.strings + base.integers))]
    elif how == "wrong_type":
        field = draw(st.sampled_from(base.strings + base.integers))
        not_a_string = st.one_of(st.integers(), st.booleans(), st.none(), st.lists(st.integers()))
        not_an_int = st.one_of(st.text(), st.floats(allow_nan=False), st.booleans(), st.none())
        payload[field] = draw(not_a_string if field in base.strings else not_an_int)
    else:
        payload["x_" + draw(st.text(max_size=10))] = draw(st.integers())
    return Hostile(base.suffix, _encode(payload), "invalid_payload")


@st.composite
def mismatched(draw: st.DrawFn) -> Hostile:
    entity_type = draw(entity_types)
    subject_type = draw(entity_types.filter(lambda t: t != entity_type))
    payload = {
        "id": draw(ids),
        "type": entity_type,
        "name": draw(words),
        "updatedAt": draw(times),
        "actorId": draw(ids),
    }
    if draw(st.booleans()):
        subject_type = entity_type
        payload["groupId"] = draw(st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True).filter(
            lambda tenant: tenant != TENANT
        ))  # fmt: skip
    return Hostile(f"entities.{subject_type}.upsert", _encode(payload), "subject_mismatch")


tokens = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


@st.composite
def bad_subjects(draw: st.DrawFn) -> Hostile:
    base = draw(bases())
    suffix = draw(
        st.one_of(
            tokens.filter(lambda t: t not in ENTITY_TYPES).map(lambda t: f"entities.{t}.upsert"),
            tokens.filter(lambda t: t not in ENTITY_OPS).map(lambda t: f"entities.creator.{t}"),
            tokens.filter(lambda t: t not in CONNECTION_OPS).map(lambda t: f"connections.owns.{t}"),
            tokens.filter(lambda t: t not in TAG_OPS).map(lambda t: f"tags.{t}"),
            tokens.map(lambda t: f"events.user_login.{t}"),
            tokens.map(lambda t: f"protocols.a2a.Message.{t}"),
            st.just("entities.creator"),
        )
    )
    return Hostile(suffix, _encode(base.payload), "bad_subject", ENVELOPE)


@st.composite
def bad_protocol_messages(draw: st.DrawFn) -> Hostile:
    message = {"messageId": draw(ids), "role": "ROLE_USER", "parts": [{"text": draw(words)}]}
    protocol, message_type = draw(
        st.sampled_from([("a2a", "Message"), ("acp", "create_checkout_session"), ("x402", "X")])
    )
    suffix = f"protocols.{protocol}.{message_type}"
    how = draw(st.sampled_from(["no_envelope", "not_an_object", "malformed"]))
    if how == "no_envelope":
        return Hostile(suffix, _encode(message), "invalid_envelope")
    if how == "not_an_object":
        body = draw(st.one_of(st.lists(st.integers()), st.text(), st.integers()))
        return Hostile(suffix, _encode(body), "invalid_payload", ENVELOPE)
    return Hostile(suffix, _encode(message)[:-1], "malformed_json", ENVELOPE)


hostile_messages = st.one_of(
    malformed(), invalid(), mismatched(), bad_subjects(), bad_protocol_messages()
)
