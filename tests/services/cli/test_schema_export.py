"""`one-bus schema export DIR` gives services in other languages what they need to validate."""

import json
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from contracts.ontology import CONNECTION_TYPES, ENTITY_TYPES, EVENT_TYPES
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
    }  # fmt: skip


def test_the_type_lists_are_enums(exported: dict[str, dict[str, Any]]) -> None:
    assert exported["entities.upsert"]["properties"]["type"]["enum"] == list(ENTITY_TYPES)
    assert exported["connections.create"]["properties"]["relationshipType"]["enum"] == list(
        CONNECTION_TYPES
    )
    assert exported["events"]["properties"]["type"]["enum"] == list(EVENT_TYPES)


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
