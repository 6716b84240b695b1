"""`one-bus dlq list | show | replay`, run as operators run it, against real servers.

The session's service ingests and dead-letters; the CLI is a separate process reading the
DLQ stream, and a replayed message goes back through the service like any other.
"""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import nats.aio.client
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.fixtures.waiting import eventually
from tests.services.cli.command import Ran, at_terminal
from tests.services.cli.command import one_bus as command_one_bus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

ONE_BUS = str(Path(sys.executable).parent / "one-bus")
Database = AsyncDatabase[dict[str, Any]]


async def one_bus(nats_url: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "dlq", *args,
        env={**os.environ, "ONE_NATS_URL": nats_url, "COLUMNS": "400"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def listed(nats_url: str, tenant: str, *filters: str) -> list[dict[str, Any]]:
    code, output = await one_bus(nats_url, "list", "--tenant", tenant, "--json", *filters)
    assert code == 0, output
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def upsert(entity_id: str, **extra: Any) -> dict[str, Any]:
    entity = {"id": entity_id, "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u"}
    return {**entity, **extra}


@pytest.fixture
async def two_dead_letters(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str
) -> list[dict[str, Any]]:
    """A malformed message and an invalid one, dead-lettered by the running service."""
    js = nats_client.jetstream()
    subject = f"one.v1.{tenant}.entities.creator.upsert"
    await js.publish(subject, b'{"id": "broken"', headers={"X-Trace": "t1"})
    bad = upsert("c1", updatedAt="yesterday")
    await js.publish(subject, json.dumps(bad).encode(), headers={"X-Trace": "t2"})
    letters = await eventually(lambda: listed(nats_url, tenant), lambda got: len(got) == 2)
    assert len(letters) == 2
    return letters


async def test_list_shows_each_dead_letter_with_subject_reason_and_payload(
    two_dead_letters: list[dict[str, Any]], nats_url: str, tenant: str
) -> None:
    malformed, invalid = two_dead_letters
    subject = f"one.v1.{tenant}.entities.creator.upsert"
    assert (malformed["subject"], malformed["reason"]) == (subject, "malformed_json")
    assert malformed["payload"] == '{"id": "broken"'
    assert (invalid["reason"], invalid["headers"]) == ("invalid_payload", {"X-Trace": "t2"})
    assert "updatedAt" in invalid["error"]
    only_invalid = await listed(nats_url, tenant, "--reason", "invalid_payload")
    assert [letter["seq"] for letter in only_invalid] == [invalid["seq"]]


async def test_the_table_lists_them_for_people(
    two_dead_letters: list[dict[str, Any]], nats_url: str, tenant: str
) -> None:
    code, output = await one_bus(nats_url, "list", "--tenant", tenant)
    assert code == 0, output
    assert "malformed_json" in output
    assert "invalid_payload" in output
    assert "2 dead letter(s)" in output


async def test_show_prints_one_dead_letter_in_full(
    two_dead_letters: list[dict[str, Any]], nats_url: str
) -> None:
    invalid = two_dead_letters[1]
    code, output = await one_bus(nats_url, "show", str(invalid["seq"]))
    assert code == 0, output
    shown = json.loads(output)
    assert shown == invalid
    assert json.loads(shown["payload"])["updatedAt"] == "yesterday"


async def test_replay_with_a_fixed_payload_stores_it_and_removes_the_dead_letter(
    two_dead_letters: list[dict[str, Any]],
    nats_url: str,
    tenant: str,
    bus_db: Database,
    tmp_path: Path,
) -> None:
    invalid = two_dead_letters[1]
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(upsert("c1", updatedAt=2)))

    code, output = await one_bus(nats_url, "replay", str(invalid["seq"]), "--payload", str(fixed))

    assert code == 0, output
    assert f"replayed dead letter {invalid['seq']}" in output
    assert "stored: entities c1 created" in output
    stored = await eventually(
        lambda: bus_db.entities.find({"groupId": tenant, "id": "c1"}).to_list(), bool
    )
    assert [(e["name"], e["updatedAt"]) for e in stored] == [("Ada", 2)]
    remaining = await listed(nats_url, tenant)
    assert [letter["reason"] for letter in remaining] == ["malformed_json"]
    code, output = await one_bus(nats_url, "show", str(invalid["seq"]))
    assert (code, "no such dead letter" in output) == (1, True)  # gone from the stream


async def test_replay_as_is_with_keep_dead_letters_it_again_and_keeps_the_original(
    two_dead_letters: list[dict[str, Any]], nats_url: str, tenant: str
) -> None:
    malformed = two_dead_letters[0]

    code, output = await one_bus(nats_url, "replay", str(malformed["seq"]), "--keep")

    # Dead-lettered again, and said so (not "replayed" as if all was well): exit 3.
    assert code == 3, output
    assert "rejected again: malformed_json" in output
    letters = await eventually(lambda: listed(nats_url, tenant), lambda got: len(got) == 3)
    assert [letter["reason"] for letter in letters] == [
        "malformed_json",
        "invalid_payload",
        "malformed_json",
    ]
    assert letters[0]["seq"] == malformed["seq"]
    assert letters[2]["payload"] == malformed["payload"]
    assert letters[2]["headers"] == {"X-Trace": "t1"}


async def test_an_unreachable_nats_is_an_error_message_not_a_traceback() -> None:
    code, output = await one_bus("nats://127.0.0.1:1", "list")
    assert (code, "cannot connect to NATS" in output, "Traceback" in output) == (1, True, False)


async def test_a_fixed_payload_replaces_one_message_only(nats_url: str) -> None:
    code, output = await one_bus(nats_url, "replay", "1", "2", "--payload", "/dev/null")
    assert code != 0
    assert "one sequence" in output


async def test_a_dead_letter_cut_to_fit_is_shown_whole_from_the_ingest_stream(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str
) -> None:
    js = nats_client.jetstream()
    huge = b"x" * (nats_client.max_payload - 300)  # its dead letter would not fit whole
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", huge, headers={"X-Trace": "t"})
    [listed_letter] = await eventually(lambda: listed(nats_url, tenant), bool)
    assert listed_letter["cut"] is True
    assert huge.startswith(listed_letter["payload"].encode())
    assert len(listed_letter["payload"]) < len(huge)

    code, output = await one_bus(nats_url, "show", str(listed_letter["seq"]))
    assert code == 0, output[:500]
    shown = json.loads(output)
    assert shown["cut"] is False
    assert shown["payload"].encode() == huge
    assert (shown["reason"], shown["headers"]) == ("oversize", {"X-Trace": "t"})


# --- paging, tenant selection, bulk replay and purge -----------------------------------


async def dead_letter(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str, count: int
) -> None:
    """`count` malformed messages for `tenant`, and one invalid one; waited for."""
    js = nats_client.jetstream()
    subject = f"one.v1.{tenant}.entities.creator.upsert"
    for n in range(count):
        await js.publish(subject, f'{{"broken": {n}'.encode())
    await js.publish(subject, json.dumps(upsert("c1", updatedAt="yesterday")).encode())
    letters = await eventually(lambda: listed(nats_url, tenant), lambda got: len(got) == count + 1)
    assert len(letters) == count + 1


async def run_dlq(*args: str, nats_url: str, tenant: str | None = None) -> Ran:
    env = {"ONE_TENANT": tenant} if tenant else None
    return await command_one_bus("dlq", *args, nats_url=nats_url, env=env)


async def test_list_takes_the_tenant_from_one_tenant_and_says_how_many_there_are(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str
) -> None:
    await dead_letter(nats_client, nats_url, tenant, 4)

    first = await run_dlq("list", "--limit", "2", "--json", nats_url=nats_url, tenant=tenant)
    assert first.code == 0, first
    page = [json.loads(line) for line in first.out.splitlines()]
    assert len(page) == 2
    assert f"showing 2 of 5 dead letters (next page: --after {page[-1]['seq']}" in first.err

    second = await run_dlq(
        "list", "--after", str(page[-1]["seq"]), "--json", nats_url=nats_url, tenant=tenant
    )
    rest = [json.loads(line) for line in second.out.splitlines()]
    assert [letter["seq"] for letter in rest] > [page[-1]["seq"]]
    assert len(rest) == 3
    assert "showing" not in second.err

    everything = await run_dlq("list", "--limit", "1", "--all", nats_url=nats_url, tenant=tenant)
    lines = everything.out.splitlines()
    assert lines[0] == "seq\ttime\tsubject\treason\terror\tpayload"  # a pipe: tab-separated
    assert len(lines) == 6
    assert all(f"one.v1.{tenant}.entities.creator.upsert" in line for line in lines[1:])
    assert "5 dead letter(s)" in everything.err


async def test_bulk_replay_counts_asks_and_replays_a_bounded_chunked_selection(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str
) -> None:
    await dead_letter(nats_client, nats_url, tenant, 3)
    select = ("--reason", "malformed_json", "-t", tenant)

    dry = await run_dlq("replay", *select, "--dry-run", nats_url=nats_url)
    assert (dry.code, dry.out) == (0, "")
    assert "would replay 3 dead letter(s)" in dry.err

    unconfirmed = await run_dlq("replay", *select, nats_url=nats_url)
    assert unconfirmed.code == 2
    assert "Give --yes" in unconfirmed.err

    done = await run_dlq("replay", *select, "--max", "2", "--yes", "--json", nats_url=nats_url)
    # Replayed as they were, each is rejected again, and says so (exit 3).
    assert done.code == 3, done
    replayed = [json.loads(line) for line in done.out.splitlines()]
    assert len(replayed) == 2
    assert {r["subject"] for r in replayed} == {f"one.v1.{tenant}.entities.creator.upsert"}
    assert [r["outcome"]["code"] for r in replayed] == ["malformed_json"] * 2
    assert "3 match; this run takes the first 2" in done.err
    # Replayed as they were, they are dead-lettered again: 1 + 2 new malformed, 1 invalid.
    letters = await eventually(lambda: listed(nats_url, tenant), lambda got: len(got) == 4)
    assert sorted(letter["reason"] for letter in letters) == [
        "invalid_payload",
        *["malformed_json"] * 3,
    ]
    assert {r["seq"] for r in replayed}.isdisjoint(letter["seq"] for letter in letters)


async def test_purge_deletes_the_selection_once_confirmed(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str
) -> None:
    await dead_letter(nats_client, nats_url, tenant, 2)

    ran = await run_dlq(
        "purge", "--reason", "invalid_payload", "--yes", nats_url=nats_url, tenant=tenant
    )

    assert ran.code == 0, ran
    assert "purged 1 of 1 dead letter(s)" in ran.err
    assert [letter["reason"] for letter in await listed(nats_url, tenant)] == ["malformed_json"] * 2


async def test_at_a_terminal_purge_asks_first(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str
) -> None:
    await dead_letter(nats_client, nats_url, tenant, 2)
    select = ("dlq", "purge", "-t", tenant, "--reason", "malformed_json")

    declined = await at_terminal(*select, answer="n\n", nats_url=nats_url)
    assert declined.code == 1, declined
    assert f"purge 2 dead letter(s) (tenant {tenant}, reason malformed_json)? [y/N]" in declined.out
    assert len(await listed(nats_url, tenant)) == 3

    accepted = await at_terminal(*select, answer="y\n", nats_url=nats_url)
    assert accepted.code == 0, accepted
    assert "purged 2 of 2" in accepted.out
    assert [letter["reason"] for letter in await listed(nats_url, tenant)] == ["invalid_payload"]


async def test_at_a_160_column_terminal_the_table_keeps_subjects_whole(
    nats_client: nats.aio.client.Client, nats_url: str, tenant: str
) -> None:
    await dead_letter(nats_client, nats_url, tenant, 1)

    ran = await at_terminal("dlq", "list", "-t", tenant, nats_url=nats_url, env={"COLUMNS": "160"})

    assert ran.code == 0, ran
    subject = f"one.v1.{tenant}.entities.creator.upsert"
    rows = [line for line in ran.out.splitlines() if subject in line]
    assert len(rows) == 2, ran.out  # each on one line, its errors folded in their column
    assert "showing" not in ran.out
    assert "2 dead letter(s)" in ran.out
