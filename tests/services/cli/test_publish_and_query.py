"""`one-bus publish` and `one-bus query` against the session's servers and service."""

import json
from pathlib import Path

import pytest

from contracts.connection_spec import ConnectionSpec
from tests.fixtures.waiting import eventually
from tests.services.cli.command import Ran, one_bus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

ADA = {"id": "ada", "type": "creator", "name": "Ada Lovelace", "updatedAt": 1, "actorId": "u1"}


async def get_ada(nats_url: str, tenant: str) -> Ran:
    return await one_bus(
        "query", "entities.get", '{"id": "ada"}', "--tenant", tenant, nats_url=nats_url
    )


async def test_a_published_entity_is_what_query_prints(nats_url: str, tenant: str) -> None:
    published = await one_bus(
        "publish", "entities.creator.upsert", json.dumps(ADA), "--tenant", tenant, "--json",
        nats_url=nats_url,
    )  # fmt: skip
    assert published.code == 0, published.err
    ack = json.loads(published.out)
    assert (ack["stream"], ack["subject"]) == (
        "ONE_INGEST",
        f"one.v1.{tenant}.entities.creator.upsert",
    )

    got = await eventually(lambda: get_ada(nats_url, tenant), lambda ran: ran.code == 0)

    assert got.code == 0, got.err
    assert json.loads(got.out)["name"] == "Ada Lovelace"


async def test_publish_reads_stdin_and_an_event_republished_is_a_duplicate(
    nats_url: str, tenant: str
) -> None:
    event = {
        "id": "pay-1", "type": "payment_event", "actorId": "u1", "timestamp": 1,
        "metadata": {"status": "processed", "protocol": "x402", "amount": "1"},
    }  # fmt: skip
    subject = f"one.v1.{tenant}.events.payment_event"
    first = await one_bus("publish", subject, "--json", nats_url=nats_url, stdin=json.dumps(event))
    again = await one_bus("publish", subject, json.dumps(event), nats_url=nats_url)
    assert first.code == 0, first.err
    assert json.loads(first.out)["msgId"] == "pay-1"
    assert (again.code, "duplicate of" in again.out) == (0, True)


async def test_an_invalid_payload_is_refused_before_it_is_sent(nats_url: str, tenant: str) -> None:
    bad = {**ADA, "updatedAt": "yesterday"}
    ran = await one_bus(
        "publish", "entities.creator.upsert", json.dumps(bad), "-t", tenant, nats_url=nats_url
    )
    assert ran.code == 2
    assert "updatedAt" in ran.err


async def test_no_validate_sends_it_anyway_and_the_service_dead_letters_it(
    nats_url: str, tenant: str
) -> None:
    bad = json.dumps({**ADA, "updatedAt": "yesterday"})
    ran = await one_bus("publish", "entities.creator.upsert", bad, "--no-validate", "-t", tenant,
                        "--json", nats_url=nats_url)  # fmt: skip
    assert ran.code == 0, ran.err
    seq = json.loads(ran.out)["seq"]
    tailed = await one_bus("tail", "dlq", "-t", tenant, "--since", "5m", "--limit", "1",
                           "--json", nats_url=nats_url)  # fmt: skip
    letter = json.loads(tailed.out)
    assert (letter["reason"], letter["originalSeq"]) == ("invalid_payload", seq)


async def test_a_protocol_message_needs_its_actor_header(nats_url: str, tenant: str) -> None:
    subject = "protocols.a2a.Message"
    missing = await one_bus("publish", subject, "{}", "-t", tenant, nats_url=nats_url)
    assert (missing.code, "One-Actor-Id" in missing.err) == (2, True)


@pytest.mark.parametrize(
    ("name", "request_text", "exit_code", "error_code"),
    [
        ("entities.get", '{"id": "nobody"}', 3, "not_found"),
        ("entities.get", '{"id": {"$gt": ""}}', 2, "invalid_request"),
        ("no.such.query", "{}", 2, "invalid_request"),
    ],
)
async def test_query_exit_codes_follow_the_error_code(
    nats_url: str, tenant: str, name: str, request_text: str, exit_code: int, error_code: str
) -> None:
    ran = await one_bus("query", name, request_text, "--tenant", tenant, nats_url=nats_url)
    assert ran.code == exit_code, ran.err
    assert json.loads(ran.err.split("\nerror:")[0])["code"] == error_code


async def test_query_all_follows_every_page(nats_url: str, tenant: str) -> None:
    for i in range(3):
        entity = {**ADA, "id": f"e{i}", "type": "lesson"}
        ran = await one_bus(
            "publish", "entities.lesson.upsert", json.dumps(entity), "-t", tenant,
            nats_url=nats_url,
        )  # fmt: skip
        assert ran.code == 0, ran.err
    request = '{"type": "lesson", "limit": 2}'

    async def listed() -> Ran:
        return await one_bus("query", "entities.list", request, "--all", "-t", tenant,
                             nats_url=nats_url)  # fmt: skip

    ran = await eventually(listed, lambda r: len(json.loads(r.out or "{}").get("items", [])) == 3)
    assert sorted(e["id"] for e in json.loads(ran.out)["items"]) == ["e0", "e1", "e2"]


async def test_a_credentials_file_is_how_commands_connect(
    nats_url: str, tenant: str, tmp_path: Path
) -> None:
    spec = tmp_path / "reader.json"
    spec.write_text(ConnectionSpec(servers=[nats_url]).model_dump_json())
    ran = await one_bus(
        "query", "stats.counts", '{"collection": "entities", "groupBy": "type"}',
        "--credentials", str(spec), "-t", tenant,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {"counts": []}


async def test_an_unreachable_server_exits_1_with_a_message() -> None:
    ran = await one_bus("query", "entities.get", '{"id": "x"}', "-t", "acme",
                        nats_url="nats://127.0.0.1:1")  # fmt: skip
    assert (ran.code, "cannot connect to NATS" in ran.err, "Traceback" in ran.err) == (
        1,
        True,
        False,
    )


async def test_version_prints_the_installed_version() -> None:
    ran = await one_bus("--version")
    assert ran.code == 0
    assert ran.out.startswith("one-bus ")
