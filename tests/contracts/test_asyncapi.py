"""The AsyncAPI document: every subject kind, resolvable payload schemas, and the official
parser (`@asyncapi/parser`, installed with npm once into `.cache/`) accepts it."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from contracts.asyncapi import asyncapi_document
from contracts.outcomes import OUTCOME_TO_HEADER
from contracts.queries import QUERY_MODELS
from contracts.watches import WATCH_MODELS

ROOT = Path(__file__).resolve().parents[2]
PARSER_DIR = ROOT / ".cache" / "asyncapi-parser"
PARSE_SCRIPT = Path(__file__).with_name("parse_asyncapi.js")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document("0.0.0-test")


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for token in ref[2:].split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_subject_kind_has_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {
        "one.v1.{tenant}.entities.{entityType}.{op}",
        "one.v1.{tenant}.connections.{relationshipType}.{op}",
        "one.v1.{tenant}.tags.{op}",
        "one.v1.{tenant}.events.{eventType}",
        "one.v1.{tenant}.protocols.{protocol}.{messageType}",
        "one.v1.{tenant}.changes.entities.{entityType}",
        "one.v1.{tenant}.changes.connections.{relationshipType}",
        "one.v1.{tenant}.changes.events.{eventType}",
        "one.v1.{tenant}.changes.tags.{op}",
        "one.v1.{tenant}.dlq.{kind}",
    } <= addresses
    assert {f"one.v1.{{tenant}}.query.{name}" for name in QUERY_MODELS} <= addresses
    assert {f"one.v1.{{tenant}}.watch.{name}" for name in WATCH_MODELS} <= addresses


def test_every_query_is_a_request_with_a_reply_or_an_error(document: dict[str, Any]) -> None:
    answers = [
        op
        for op in document["operations"].values()
        if "reply" in op and op["reply"]["channel"]["$ref"] != "#/channels/outcomes"
    ]
    # Each query, each watchable query's watch, and watch.renew / watch.stop.
    assert len(answers) == len(QUERY_MODELS) + len(WATCH_MODELS) + 2
    for operation in answers:
        replies = [ref["$ref"].rsplit("/", 1)[1] for ref in operation["reply"]["messages"]]
        assert "queryError" in replies
        assert len(replies) == 2


def test_every_ingest_channel_may_ask_for_an_outcome_answered_at_that_inbox(
    document: dict[str, Any],
) -> None:
    ingest = [
        (name, op)
        for name, op in document["operations"].items()
        if op["action"] == "receive" and "reply" in op and "queryError" not in str(op["reply"])
    ]
    assert {op["channel"]["$ref"].rsplit("/", 1)[1] for _, op in ingest} == {
        "entityCommands", "connectionCommands", "tagCommands", "events", "protocolMessages"
    }  # fmt: skip
    for name, op in ingest:
        reply = op["reply"]
        assert reply["address"]["location"] == f"$message.header#/{OUTCOME_TO_HEADER}", name
        assert reply["channel"] == {"$ref": "#/channels/outcomes"}
        assert [ref["$ref"].rsplit("/", 1)[1] for ref in reply["messages"]] == [
            "outcomeStored", "outcomeRejected"
        ]  # fmt: skip
        for ref in op["messages"]:
            message = resolve(document, resolve(document, ref["$ref"])["$ref"])
            assert OUTCOME_TO_HEADER in message["headers"]["properties"], (name, ref)
    # The asker's inbox: no address of the service's.
    assert document["channels"]["outcomes"]["address"] is None


def test_every_ref_resolves_inside_the_document(document: dict[str, Any]) -> None:
    for ref in set(refs(document)):
        assert resolve(document, ref) is not None, ref


def test_payload_schemas_accept_good_and_refuse_bad_messages(document: dict[str, Any]) -> None:
    # Payload refs point into the document (`#/components/schemas/...`): validate through it.
    registry: Registry[Any] = Registry().with_resource("urn:doc", Resource.opaque(document))

    def payload_of(message: str) -> jsonschema.Draft202012Validator:
        schema = {"$ref": f"urn:doc#/components/messages/{message}/payload"}
        return jsonschema.Draft202012Validator(schema, registry=registry)

    validator = payload_of("entityUpsert")
    good = {"id": "01J", "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u"}
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "type": "wizard"})
    reply_validator = payload_of("queryEntitiesListReply")
    assert reply_validator.is_valid({"ok": True, "data": {"items": [], "nextCursor": None}})
    assert not reply_validator.is_valid({"ok": True, "data": {"items": "none"}})


@pytest.fixture(scope="session")
def asyncapi_parser() -> Path:
    """`@asyncapi/parser` installed into `.cache/` (once; kept between runs)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the official AsyncAPI parser")
    modules = PARSER_DIR / "node_modules"
    if not (modules / "@asyncapi" / "parser").is_dir():
        PARSER_DIR.mkdir(parents=True, exist_ok=True)
        # A failed install fails the test: CI has npm and the registry, so it must work.
        subprocess.run(
            [npm, "install", "--prefix", str(PARSER_DIR), "--no-audit", "--no-fund",
             "--no-save", "@asyncapi/parser@3"],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    return modules


def test_the_official_asyncapi_parser_finds_no_errors(
    asyncapi_parser: Path, document: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    ran = subprocess.run(
        ["node", str(PARSE_SCRIPT), str(path)],
        env={**os.environ, "NODE_PATH": str(asyncapi_parser)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    diagnostics = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert ran.returncode == 0, (ran.stderr, diagnostics)
    assert [d for d in diagnostics if d["severity"] == 0] == []
