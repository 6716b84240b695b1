"""The console's HTTP endpoints on a real bus: what each page shows and refuses."""

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from contracts.connection_spec import ConnectionSpec
from contracts.tenancy import TenantQuotas
from one_bus import OneClient
from services.console.app import create_app
from services.console.bus import ConsoleBus
from services.console.server import ConsoleServer
from services.runtime.tenant_directory import put_quotas, tenants_bucket
from services.settings import Settings
from tests.fixtures.waiting import eventually
from tests.services.console.seed import HOSTILE_NAMES, Seeded

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]


@pytest.fixture
async def http(console: ConsoleServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
        yield client


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


async def dead_letter(one: OneClient) -> None:
    """Input the bus rejects: not JSON, on a valid entity subject."""
    await one.publish_raw("entities.creator.upsert", b"{not json")


async def test_records_lists_the_tenants_entities_by_type(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    everything = (await http.get("/records")).text
    courses = (await http.get("/records", params={"type": "course"})).text

    assert all(f'data-id="{e}"' in everything for e in (seeded.ada, seeded.grace, seeded.post))
    assert f'data-id="{seeded.course}"' in courses
    assert f'data-id="{seeded.ada}"' not in courses


async def test_an_entity_page_shows_properties_tags_connections_and_audit(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    page = (await http.get(f"/records/{seeded.ada}")).text

    assert "Ada Lovelace" in page
    assert "engines" in page  # a property
    assert "topic = computing" in page  # a tag
    assert "Notes on the engine" in page  # a connection out
    assert "Grace Hopper" in page
    assert "entity_created" in page  # the audit trail


async def test_the_graph_has_the_neighbourhood_at_the_depth_asked(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    one_hop = (await http.get(f"/records/{seeded.ada}/graph", params={"depth": 1})).text
    two_hops = (await http.get(f"/records/{seeded.ada}/graph", params={"depth": 2})).text

    def nodes(html: str) -> set[str]:
        return set(re.findall(r'class="node[^"]*" data-id="([^"]+)"', html))

    def edges(html: str) -> set[tuple[str, str, str]]:
        found = re.findall(r'data-from="([^"]+)" data-to="([^"]+)" data-type="([^"]+)"', html)
        return set(found)

    assert nodes(one_hop) == {seeded.ada, seeded.post, seeded.grace}
    assert nodes(two_hops) == {seeded.ada, seeded.post, seeded.grace, seeded.course}
    assert edges(two_hops) == set(seeded.edges)


async def test_a_hostile_name_is_escaped_everywhere_it_is_shown(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    pages = [
        (await http.get("/records")).text,
        (await http.get(f"/records/{seeded.hostile}")).text,
        (await http.get(f"/records/{seeded.hostile}/graph")).text,
    ]
    for page in pages:
        assert "<script>window" not in page
        assert "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in pages[1]


async def test_hostile_paths_and_parameters_are_answered_as_pages(
    http: httpx.AsyncClient,
) -> None:
    odd_id = await http.get("/records/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    odd_depth = await http.get("/records/nobody/graph", params={"depth": "9999"})
    no_letter = await http.get("/dead-letters/987654321")
    odd_filter = await http.get("/records", params={"type": "<b>", "status": "x" * 5000})

    assert odd_id.status_code in (200, 404)
    assert "<script>alert" not in odd_id.text
    assert odd_depth.status_code == 200  # clamped to the deepest traversal allowed
    assert no_letter.status_code == 404
    assert odd_filter.status_code == 200
    assert 'data-testid="problem"' in odd_filter.text  # said what is wrong, no crash


async def test_another_tenants_dead_letter_is_not_shown(
    http: httpx.AsyncClient, nats_url: str, tenant: str
) -> None:
    async with OneClient(f"{tenant}_other", ConnectionSpec(servers=[nats_url])) as other:
        published = await other.publish_raw("entities.creator.upsert", b"{theirs")
        async with other.dead_letters(start_seq=1) as letters:
            async for letter in letters:
                if letter.original_seq == published.seq:
                    theirs = letter.position.seq
                    break

    shown = await http.get(f"/dead-letters/{theirs}")

    assert shown.status_code == 404
    assert "{theirs" not in shown.text


async def test_a_dead_letter_is_listed_shown_and_replayed_with_its_result(
    http: httpx.AsyncClient, one: OneClient
) -> None:
    await dead_letter(one)
    listing = await eventually(
        lambda: http.get("/dead-letters"), lambda r: "malformed_json" in r.text
    )
    seq = re.search(r'name="seq" value="(\d+)"', listing.text)
    assert seq, listing.text
    shown = (await http.get(f"/dead-letters/{seq.group(1)}")).text
    filtered = (await http.get("/dead-letters", params={"reason": "invalid_payload"})).text

    replayed = await http.post(
        "/dead-letters/replay", data={"seq": seq.group(1), "form_token": form_token(listing.text)}
    )

    assert "{not json" in shown
    assert f'value="{seq.group(1)}"' not in filtered
    assert replayed.status_code == 200
    # Replayed as it was, it is dead-lettered again, and the page says why.
    assert 'data-testid="outcome">rejected again<' in replayed.text
    assert "rejected again: malformed_json" in replayed.text
    assert "ONE_INGEST seq" in replayed.text


async def test_a_replay_without_the_consoles_form_token_is_refused(
    http: httpx.AsyncClient, one: OneClient
) -> None:
    await dead_letter(one)
    listing = await eventually(
        lambda: http.get("/dead-letters"), lambda r: "malformed_json" in r.text
    )
    seq = re.search(r'name="seq" value="(\d+)"', listing.text)
    assert seq

    forged = await http.post("/dead-letters/replay", data={"seq": seq.group(1), "form_token": "x"})

    assert forged.status_code == 403
    assert "replayed" not in forged.text


async def test_a_customer_identity_gets_no_replay(
    customer_console: ConsoleServer, one: OneClient
) -> None:
    await dead_letter(one)
    async with httpx.AsyncClient(base_url=customer_console.url, timeout=30) as http:
        listing = await eventually(
            lambda: http.get("/dead-letters"), lambda r: "malformed_json" in r.text
        )
        seq = re.search(r'href="/dead-letters/(\d+)"', listing.text)
        assert seq
        attempt = await http.post(
            "/dead-letters/replay",
            data={"seq": seq.group(1), "form_token": form_token(listing.text)},
        )

    assert 'name="seq"' not in listing.text  # no checkboxes, no replay button
    assert "read only" in listing.text
    assert attempt.status_code == 403
    assert "may not replay" in attempt.text


async def test_the_live_changes_stream_sends_what_is_stored_after_ready(
    console: ConsoleServer, one: OneClient
) -> None:
    async with (
        httpx.AsyncClient(base_url=console.url, timeout=30) as http,
        http.stream("GET", "/live/changes", params={"collection": "entities"}) as stream,
    ):
        events = stream.aiter_lines()
        assert await anext(events) == "event: ready"
        entity_id, _ = await one.upsert_entity(type="creator", name="Live one", actor_id="u1")
        seen: list[dict[str, object]] = []
        async for line in events:
            if line.startswith("data: ") and '"seq"' in line:
                seen.append(json.loads(line[len("data: ") :]))
                if seen[-1]["id"] == entity_id:
                    break

    assert seen[-1]["name"] == "Live one"
    assert seen[-1]["collection"] == "entities"


async def test_the_health_page_shows_the_query_service_and_ingest(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    page = (await http.get("/health")).text

    assert "entities_list" in page  # $SRV.STATS of one-bus-query, per endpoint
    assert "ingest backlog" in page
    assert "max_backlog_msgs" in page  # the tenant's quotas: here the deployment's defaults
    assert "refused" not in page  # the open dev server lets this identity see it all


async def test_the_health_page_shows_the_tenants_own_quotas_over_the_defaults(
    http: httpx.AsyncClient, nats_client: NatsClient, tenant: str
) -> None:
    kv = await tenants_bucket(nats_client.jetstream())
    await put_quotas(kv, tenant, TenantQuotas(max_backlog_msgs=7777))

    page = (await http.get("/health")).text
    quotas = page.split('id="quotas"')[1].split("</table>")[0]

    assert re.search(r"max_backlog_msgs</td><td>7,777</td>\s*<td>the tenant&#39;s own", quotas)
    assert re.search(r"max_watches</td><td>[0-9,]+</td>\s*<td>deployment default", quotas)


async def test_beyond_loopback_a_login_token_is_needed(
    nats_url: str, tenant: str, bus_settings: Settings
) -> None:
    bus = await ConsoleBus(ConnectionSpec(servers=[nats_url]), tenant, bus_settings).start()
    app = create_app(bus, token="s3cret", loopback_only=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
            before = await http.get("/records")
            wrong = await http.post("/login", data={"token": "nope", "next": "/records"})
            right = await http.post("/login", data={"token": "s3cret", "next": "//evil/x"})
            after = await http.get("/records")
    finally:
        await bus.close()

    assert (before.status_code, before.headers["location"]) == (303, "/login?next=/records")
    assert wrong.status_code == 403
    assert (right.status_code, right.headers["location"]) == (303, "/records")
    assert after.status_code == 200


async def test_on_loopback_another_host_name_is_refused(http: httpx.AsyncClient) -> None:
    rebound = await http.get("/records", headers={"Host": "attacker.example"})

    assert rebound.status_code == 421
    assert HOSTILE_NAMES  # the seed module's names are what the browser tests use too
