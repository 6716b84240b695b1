"""The console's pages in a real headless Chromium against the real bus."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from one_bus import OneClient
from services.console.server import ConsoleServer
from tests.services.console.browser import chromium, chromium_path
from tests.services.console.seed import HOSTILE_NAMES, Seeded

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("bus"),
    pytest.mark.skipif(
        chromium_path() is None,
        reason="no Chromium installed (apt-get install chromium; .ci/run does)",
    ),
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def test_the_graph_view_draws_the_seeded_neighbourhood_and_walks_on(
    page: Page, console: ConsoleServer, seeded: Seeded
) -> None:
    await page.goto(f"{console.url}records/{seeded.ada}")
    await page.get_by_test_id("graph-depth-2").click()

    nodes = await page.locator("svg.graph a.node").evaluate_all("els => els.map(e => e.dataset.id)")
    edges = await page.locator("svg.graph g.edge").evaluate_all(
        "els => els.map(e => [e.dataset.from, e.dataset.to, e.dataset.type])"
    )
    assert set(nodes) == {seeded.ada, seeded.grace, seeded.post, seeded.course}
    assert {tuple(edge) for edge in edges} == set(seeded.edges)

    # Clicking Grace walks on: she is the centre, at the same depth.
    await page.locator(f'svg.graph a.node[data-id="{seeded.grace}"] circle').click()
    await expect(page.locator("svg.graph a.node.start")).to_have_attribute("data-id", seeded.grace)


async def test_the_live_list_shows_a_change_published_during_the_test(
    page: Page, console: ConsoleServer, one: OneClient
) -> None:
    await page.goto(f"{console.url}live")
    await expect(page.get_by_test_id("live-status")).to_have_text("following")

    entity_id, _ = await one.upsert_entity(type="creator", name="Arrived live", actor_id="u1")

    # Its audit event (`entity_created`) arrives on the events changes too.
    row = page.locator("#changes tbody tr", has_text="Arrived live")
    await expect(row).to_contain_text(entity_id)
    await expect(row).to_contain_text("entities")


async def test_paused_the_live_list_shows_nothing_new_and_resumed_it_catches_up(
    page: Page, console: ConsoleServer, one: OneClient
) -> None:
    await page.goto(f"{console.url}live")
    await expect(page.get_by_test_id("live-status")).to_have_text("following")
    first, _ = await one.upsert_entity(type="creator", name="Before the pause", actor_id="u1")
    await expect(page.locator("#changes tbody tr", has_text="Before the pause")).to_have_count(1)

    await page.get_by_test_id("pause").click()
    await expect(page.get_by_test_id("live-status")).to_have_text("paused")
    await one.upsert_entity(type="creator", name="During the pause", actor_id="u1")
    # Wait until the bus has stored it (its change is in the stream), then look.
    async with one.subscribe(collection="entities", start_seq=1) as changes:
        async for change in changes:
            if change.record.model_dump().get("name") == "During the pause":
                break
    shown_while_paused = await page.locator("#changes tbody tr", has_text="During").count()
    await page.get_by_test_id("pause").click()

    await expect(page.locator("#changes tbody tr", has_text="During the pause")).to_have_count(1)
    await expect(page.locator("#changes tbody tr", has_text="Before the pause")).to_have_count(1)
    assert first
    assert shown_while_paused == 0


async def test_a_records_list_switched_to_live_shows_a_new_entity(
    page: Page, console: ConsoleServer, seeded: Seeded, one: OneClient
) -> None:
    await page.goto(f"{console.url}records?type=course")
    await page.get_by_test_id("records-live").click()
    await expect(page.locator("[data-live-status='#records']")).to_contain_text("version")

    new_id, _ = await one.upsert_entity(type="course", name="Watched course", actor_id="u1")

    await expect(page.locator(f'#records tr[data-id="{new_id}"]')).to_contain_text("Watched course")
    await expect(page.locator(f'#records tr[data-id="{seeded.course}"]')).to_have_count(1)


async def test_an_entity_page_switched_to_live_shows_a_new_tag_and_connection(
    page: Page, console: ConsoleServer, seeded: Seeded, one: OneClient
) -> None:
    await page.goto(f"{console.url}records/{seeded.course}")
    await page.get_by_test_id("entity-live").click()
    await expect(page.locator("[data-live-status='page']")).to_have_text("live")

    await one.set_tag(seeded.course, "level", "advanced")

    await expect(page.locator(".tag", has_text="level = advanced")).to_have_count(1)
    # Still live after showing itself again: a connection in arrives too.
    await expect(page.locator("[data-live-status='page']")).to_have_text("live")
    await one.create_connection(
        from_id=seeded.ada, to_id=seeded.course, relationship_type="following"
    )
    await expect(page.locator("section", has_text="Connections in")).to_contain_text("Ada Lovelace")


async def test_a_dead_letter_is_replayed_from_the_page(
    page: Page, console: ConsoleServer, one: OneClient
) -> None:
    await one.publish_raw("entities.creator.upsert", b"{not json")
    await page.goto(f"{console.url}dead-letters")
    while await page.locator("#dead-letters input[name=seq]").count() == 0:
        await page.reload()  # until ingest has dead-lettered it

    await page.locator("#dead-letters input[name=seq]").first.check()
    await page.get_by_test_id("replay-selected").click()

    await expect(page.locator("#replayed [data-testid=outcome]")).to_have_text(["rejected again"])
    await expect(page.locator("#replayed")).to_contain_text("malformed_json")
    await expect(page.locator("#replayed")).to_contain_text("ONE_INGEST seq")


async def test_a_hostile_record_name_is_shown_as_text_and_runs_nothing(
    page: Page, console: ConsoleServer, seeded: Seeded
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    hostile = HOSTILE_NAMES[0] + HOSTILE_NAMES[1]

    await page.goto(f"{console.url}records/{seeded.hostile}")
    heading = await page.get_by_test_id("entity-name").inner_text()
    await page.goto(f"{console.url}records")
    await page.get_by_test_id("records-live").click()  # rows drawn by the script too
    await expect(page.locator("[data-live-status='#records']")).to_contain_text("version")
    listed = await page.locator(f'#records tr[data-id="{seeded.hostile}"] a.name').inner_text()
    pwned = await page.evaluate("() => window.__pwned === 1")
    injected = await page.locator("img[src=x], main script").count()

    assert heading == hostile
    assert listed == hostile
    assert (pwned, injected, dialogs) == (False, 0, [])
