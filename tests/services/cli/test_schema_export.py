"""`one-bus schema export DIR` gives services in other languages what they need to validate."""

import json
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from contracts.asyncapi import asyncapi_document
from contracts.ontology import CONNECTION_TYPES, ENTITY_TYPES, PUBLISHABLE_EVENT_TYPES
from contracts.queries import QUERY_MODELS
from services.cli.main import app


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("schemas")
    result = CliRunner().invoke(app, ["schema", "export", str(directory)])
    assert result.exit_code == 0, result.output
    return {
        p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in directory.iterdir()
    }


def test_every_message_kind_has_a_schema(exported: dict[str, dict[str, Any]]) -> None:
    assert set(exported) >= {
        "entities.upsert", "entities.delete", "entities.archive",
        "connections.create", "connections.delete",
        "tags.set", "tags.delete", "events",
        "record.entity", "record.connection", "record.event", "record.tag", "change",
        "outcome", "outcome.stored", "outcome.rejected",
    }  # fmt: skip


def test_the_type_lists_are_enums(exported: dict[str, dict[str, Any]]) -> None:
    assert exported["entities.upsert"]["properties"]["type"]["enum"] == list(ENTITY_TYPES)
    assert exported["connections.create"]["properties"]["relationshipType"]["enum"] == list(
        CONNECTION_TYPES
    )
    # Publishers may not send the lifecycle types: the service records those itself.
    assert exported["events"]["properties"]["type"]["enum"] == list(PUBLISHABLE_EVENT_TYPES)


def test_a_generic_json_schema_validator_accepts_good_and_refuses_bad_payloads(
    exported: dict[str, dict[str, Any]],
) -> None:
    schema = exported["entities.upsert"]
    good = {"id": "01J", "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u"}
    jsonschema.validate(good, schema)
    for bad in (
        {**good, "type": "wizard"},
        {**good, "updatedAt": "yesterday"},
        {**good, "surprise": 1},
        {k: v for k, v in good.items() if k != "actorId"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_every_schema_is_a_standalone_2020_12_document_with_its_own_id(
    exported: dict[str, dict[str, Any]],
) -> None:
    schemas = {name: schema for name, schema in exported.items() if name != "asyncapi.json"}
    for name, schema in schemas.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        jsonschema.Draft202012Validator.check_schema(schema)
    ids = [schema["$id"] for schema in schemas.values()]
    assert len(set(ids)) == len(ids)


def test_queries_have_request_and_reply_schemas(exported: dict[str, dict[str, Any]]) -> None:
    for name in QUERY_MODELS:
        assert {f"query.{name}.request", f"query.{name}.reply"} <= set(exported)
    request, reply = exported["query.entities.get.request"], exported["query.entities.get.reply"]
    jsonschema.validate({"id": "01J", "type": "creator"}, request)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": {"$gt": ""}}, request)
    ada = {"id": "a", "groupId": "acme", "type": "creator", "name": "Ada", "properties": {},
           "createdAt": 1, "updatedAt": 1}  # fmt: skip
    jsonschema.validate({"ok": True, "data": ada}, reply)
    jsonschema.validate({"ok": True, "data": {"items": [ada]}}, reply)
    error = {"code": "not_found", "message": "no entity a", "details": None}
    jsonschema.validate({"ok": False, "error": error}, reply)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"ok": False, "error": {**error, "code": "oops"}}, reply)


def test_the_asyncapi_document_is_written_too(exported: dict[str, dict[str, Any]]) -> None:
    written = exported["asyncapi.json"]
    assert written["asyncapi"] == "3.0.0"
    assert written["channels"] == asyncapi_document()["channels"]
