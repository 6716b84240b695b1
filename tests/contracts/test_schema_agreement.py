"""Generated requests and payloads: the exported schema and the service agree on each.

Hypothesis builds objects from each model's own field names plus hostile keys, with
values drawn from a pool of the domains' edges (null, wrong types, bounds, operator-shaped
objects, variant keys). For every object, `jsonschema` (2020-12, format checking) on the
exported file and the service's own validation must give the same verdict. The pool holds
nothing from the rules beyond JSON Schema (test_schema_conformance.BEYOND_SCHEMA).
"""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.command_kinds import COMMAND_KINDS, CommandKind
from contracts.metadata_rules import CONNECTION_VARIANTS, EVENT_VARIANTS
from contracts.queries import QUERY_MODELS
from contracts.subjects import is_tenant
from contracts.watches import WATCH_MODELS
from tests.contracts.exported import Exported, export
from tests.contracts.test_schema_conformance import (
    INBOX,
    TENANT,
    request_accepted,
    service_accepts,
)

HOSTILE_KEYS = ["$where", "$or", "a.b", "surprise", ""]
SCALARS: list[Any] = [
    None, "", "a", "e1", "A2A", "x402", "creator", "owns", "transacted", "payment_event",
    "entity_created", "user_login", "entities", "tags", "type", "status", "key", "payment",
    "processed", "bogus", "out", "both", "has space", "x" * 1025, 0, 1, 3, -1, 501, 2**53,
    True, False, 0.5,
]  # fmt: skip
VARIANT_KEYS = sorted(
    {key for rule in (*CONNECTION_VARIANTS.values(), *EVENT_VARIANTS.values())
     for key in rule.model_fields} | {"payload", "messageType", "level"}
)  # fmt: skip
SMALL_OBJECTS = st.dictionaries(
    st.sampled_from(VARIANT_KEYS + HOSTILE_KEYS[:3]), st.sampled_from(SCALARS), max_size=3
)
VALUES = st.one_of(
    st.sampled_from(SCALARS),
    SMALL_OBJECTS,
    st.lists(st.sampled_from(["e1", "e2", "owns", 1, None]), max_size=3),
)


def objects(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(fields + HOSTILE_KEYS), VALUES, max_size=len(fields))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    directory = tmp_path_factory.mktemp("exported")
    export(directory)
    return Exported(directory)


@pytest.mark.parametrize("name", sorted(QUERY_MODELS))
def test_generated_query_requests(exported: Exported, name: str) -> None:
    validator = exported.schema(f"query.{name}.request")

    @settings(max_examples=300)
    @given(objects(list(QUERY_MODELS[name].model_fields)))
    def agree(request: dict[str, Any]) -> None:
        assert validator.is_valid(request) is request_accepted("query", name, request), request

    agree()


@pytest.mark.parametrize("name", sorted(WATCH_MODELS))
def test_generated_watch_requests(exported: Exported, name: str) -> None:
    validator = exported.schema(f"watch.{name}.request")
    # `deliverTo` is an inbox or absent: any other subject is beyond the schema.
    fields = [field for field in WATCH_MODELS[name].model_fields if field != "deliverTo"]
    fields.append("cursor")

    @settings(max_examples=300)
    @given(objects(fields), st.booleans())
    def agree(request: dict[str, Any], deliver: bool) -> None:
        request = {**request, "deliverTo": INBOX} if deliver else request
        assert validator.is_valid(request) is request_accepted("watch", name, request), request

    agree()


def _subject(kind: str, op: str | None, payload: dict[str, Any]) -> str:
    # The subject names the payload's own type where it has a usable one, so that only
    # the payload decides (a type differing from the subject's is beyond the schema).
    type_field = {"entities": "type", "connections": "relationshipType", "events": "type"}
    fallback = {"entities": "creator", "connections": "owns", "events": "user_login"}
    if kind == "tags":
        return f"one.v1.{TENANT}.tags.{op}"
    given_type = payload.get(type_field[kind])
    token = given_type if isinstance(given_type, str) and given_type.isidentifier() else None
    type_token = token or fallback[kind]
    return ".".join(t for t in ("one.v1", TENANT, kind, type_token, op) if t)


@pytest.mark.parametrize("kind", COMMAND_KINDS, ids=lambda kind: kind.name)
def test_generated_ingest_payloads(exported: Exported, kind: CommandKind) -> None:
    validator = exported.schema(kind.name)
    fields = list(kind.model.model_fields)

    @settings(max_examples=300)
    @given(objects(fields))
    def agree(payload: dict[str, Any]) -> None:
        group = payload.get("groupId")
        if isinstance(group, str) and is_tenant(group):
            # Another tenant's groupId is beyond the schema (it is the subject's).
            payload = {**payload, "groupId": TENANT}
        subject = _subject(kind.collection, kind.subject_op, payload)
        schema_ok = validator.is_valid(payload)
        assert schema_ok is service_accepts(subject, payload), (subject, json.dumps(payload))

    agree()
