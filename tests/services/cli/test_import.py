"""`one-bus import FILE.jsonl`: bulk publish with a summary of accepted and dead-lettered."""

import json
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from contracts.tenancy import TenantQuotas
from services.runtime.service import OneBusService
from services.runtime.streams import declare_streams, declare_tenant_stream
from services.settings import Settings
from tests.services.cli.command import one_bus

pytestmark = [pytest.mark.integration]
CLI_DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def entity(i: int, **extra: Any) -> dict[str, Any]:
    payload = {"id": f"e{i}", "type": "lesson", "name": f"Lesson {i}", "updatedAt": 1}
    return {"subject": "entities.lesson.upsert", "payload": {**payload, "actorId": "u", **extra}}


async def test_import_stores_good_lines_and_reports_dead_letters_with_their_lines(
    nats_url: str, tenant: str, tmp_path: Path, bus_db: AsyncDatabase[dict[str, Any]]
) -> None:
    lines = [json.dumps(entity(i)) for i in range(200)]
    lines.insert(10, json.dumps(entity(900, updatedAt="yesterday")))  # line 11: invalid
    lines.insert(20, "# a comment")
    lines.insert(30, "not json")  # line 31: skipped locally
    lines.append(json.dumps({"subject": "tags.set", "payload": {"entityId": "e1", "key": "k",
                                                                "value": "v"}}))  # fmt: skip
    source = tmp_path / "data.jsonl"
    source.write_text("\n".join(lines) + "\n")

    ran = await one_bus("import", str(source), "-t", tenant, "--max-in-flight", "16", "--json",
                        nats_url=nats_url)  # fmt: skip

    assert ran.code == 2, ran.err
    summary = json.loads(ran.out)
    assert (summary["lines"], summary["accepted"], summary["deadLettered"], summary["skipped"]) == (
        203,
        201,
        1,
        1,
    )
    assert summary["processed"] is True
    assert summary["reasons"] == {"invalid_payload": 1}
    assert summary["deadLetters"][0]["line"] == 11
    assert summary["skippedLines"][0]["line"] == 31
    assert await bus_db.entities.count_documents({"groupId": tenant}) == 200

    assert summary["stored"] == {"created": 201}  # 200 entities and a tag, from outcomes

    again = await one_bus("import", str(source), "-t", tenant, "--json", nats_url=nats_url)
    # Same lines, same message ids: the stream drops every one as a duplicate; the line
    # dead-lettered the first time is still dead-lettered, not "accepted".
    rerun = json.loads(again.out)
    assert rerun["duplicates"] == 202
    assert (rerun["accepted"], rerun["deadLettered"], rerun["reasons"]) == (
        201,
        1,
        {"invalid_payload": 1},
    )
    assert rerun["deadLetters"][0]["line"] == 11
    assert again.code == 2


async def test_a_clean_import_exits_0_with_a_readable_summary(
    nats_url: str, tenant: str, tmp_path: Path, bus_db: AsyncDatabase[dict[str, Any]]
) -> None:
    source = tmp_path / "clean.jsonl"
    source.write_text("\n".join(json.dumps(entity(i)) for i in range(5)))

    ran = await one_bus("import", str(source), "-t", tenant, nats_url=nats_url)

    assert ran.code == 0, ran.err
    assert "accepted" in ran.err
    assert await bus_db.entities.count_documents({"groupId": tenant}) == 5


async def test_the_documented_example_lines_import_cleanly(
    nats_url: str, tenant: str, tmp_path: Path, bus_db: AsyncDatabase[dict[str, Any]]
) -> None:
    doc = CLI_DOC.read_text()
    block = doc.split("```json\n", 1)[1].split("```", 1)[0]
    other = f"{tenant}-2"
    source = tmp_path / "documented.jsonl"
    source.write_text(block.replace("one.v1.globex.", f"one.v1.{other}."))

    ran = await one_bus("import", str(source), "-t", tenant, "--json", nats_url=nats_url)

    assert ran.code == 0, (ran.out, ran.err)
    assert json.loads(ran.out)["accepted"] == 5
    assert await bus_db.events.count_documents({"groupId": other, "id": "p1"}) == 1


async def test_a_rerun_over_tenant_streams_reports_each_dead_letter_on_its_own_line(
    private_nats_url: str, mongodb_uri: str, tmp_path: Path
) -> None:
    # Each tenant's own stream counts from 1: tenant a's bad line and tenant b's good one
    # are both at sequence 1, and only the first is dead-lettered.
    a, b = (f"imp{n}_{uuid.uuid4().hex[:6]}" for n in range(2))
    settings = Settings(
        nats_url=private_nats_url,
        mongodb_uri=mongodb_uri,
        mongodb_db=f"import_{uuid.uuid4().hex[:8]}",
        ingest_layout="per_tenant",
        ingest_lane_discovery_s=0.1,
    )
    client = await nats.connect(private_nats_url)
    js = client.jetstream()
    await declare_streams(js, settings)
    for tenant in (a, b):
        await declare_tenant_stream(js, settings, tenant, TenantQuotas())
    bad = entity(1, updatedAt="yesterday")
    source = tmp_path / "two-tenants.jsonl"
    source.write_text(
        "\n".join(
            json.dumps({**line, "subject": f"one.v1.{tenant}.{line['subject']}"})
            for tenant, line in ((a, bad), (b, entity(2)))
        )
        + "\n"
    )
    env = {"ONE_INGEST_LAYOUT": "per_tenant"}
    try:
        async with OneBusService(settings, query=False):
            first = await one_bus("import", str(source), "--json", nats_url=private_nats_url,
                                  env=env)  # fmt: skip
            again = await one_bus("import", str(source), "--json", nats_url=private_nats_url,
                                  env=env)  # fmt: skip
    finally:
        await client.close()

    for ran in (first, again):
        summary = json.loads(ran.out)
        assert [d["line"] for d in summary["deadLetters"]] == [1], ran
        assert summary["accepted"] == 1
    assert json.loads(again.out)["duplicates"] == 2
