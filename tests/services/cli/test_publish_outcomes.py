"""`one-bus publish --wait` tells stored from rejected, with exit codes by outcome, and
`query --after` / `watch --after` read what was just written (run as users run them)."""

import json
import uuid

import pytest

from tests.services.cli.command import one_bus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]


def creator(entity: str, subject_type: str = "creator") -> str:
    record = {"id": entity, "type": subject_type, "name": "Ada", "updatedAt": 1, "actorId": "u"}
    return json.dumps(record)


async def test_wait_says_stored_and_what_it_did(nats_url: str, tenant: str) -> None:
    entity = "a-" + uuid.uuid4().hex[:6]
    ran = await one_bus("publish", "entities.creator.upsert", creator(entity), "-t", tenant,
                        "--wait", nats_url=nats_url)  # fmt: skip
    assert ran.code == 0, ran.err
    assert "stored as ONE_INGEST #" in ran.out
    assert f"entities {entity} created" in ran.out

    as_json = await one_bus("publish", "entities.creator.upsert", creator(entity), "-t", tenant,
                            "--wait", "--json", nats_url=nats_url)  # fmt: skip
    answer = json.loads(as_json.out)
    assert (answer["status"], answer["outcome"]["records"][0]["effect"]) == ("stored", "updated")
    assert answer["outcome"]["seq"] == answer["seq"]


async def test_a_rejected_write_exits_3_with_its_reason(nats_url: str, tenant: str) -> None:
    # The payload's type is not the subject's: valid on its own, refused by ingest.
    mismatched = creator("m-" + uuid.uuid4().hex[:6], subject_type="blog_post")
    ran = await one_bus("publish", "entities.creator.upsert", mismatched, "-t", tenant,
                        "--no-validate", "--wait", nats_url=nats_url)  # fmt: skip
    assert ran.code == 3, (ran.out, ran.err)
    assert "rejected: subject_mismatch" in ran.err
    as_json = await one_bus("publish", "entities.creator.upsert", mismatched, "-t", tenant,
                            "--no-validate", "--wait", "--json", nats_url=nats_url)  # fmt: skip
    assert as_json.code == 3
    answer = json.loads(as_json.out)
    assert (answer["status"], answer["outcome"]["code"]) == ("rejected", "subject_mismatch")


async def test_no_wait_says_in_the_stream_and_query_after_reads_it(
    nats_url: str, tenant: str
) -> None:
    entity = "n-" + uuid.uuid4().hex[:6]
    ran = await one_bus("publish", "entities.creator.upsert", creator(entity), "-t", tenant,
                        "--json", nats_url=nats_url)  # fmt: skip
    assert ran.code == 0, ran.err
    answer = json.loads(ran.out)
    assert (answer["status"], answer["outcome"]) == ("in_stream", None)
    got = await one_bus("query", "entities.get", json.dumps({"id": entity}), "-t", tenant,
                        "--after", str(answer["seq"]), nats_url=nats_url)  # fmt: skip
    assert got.code == 0, got.err
    assert json.loads(got.out)["id"] == entity
    watched = await one_bus("watch", "entities.get", json.dumps({"id": entity}), "-t", tenant,
                            "--after", str(answer["seq"]), "--limit", "1", "--compact",
                            nats_url=nats_url)  # fmt: skip
    assert watched.code == 0, watched.err
    assert json.loads(watched.out)["id"] == entity
    bad = await one_bus("query", "entities.get", "{}", "-t", tenant, "--after", "0",
                        nats_url=nats_url)  # fmt: skip
    assert bad.code == 2
