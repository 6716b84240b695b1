"""`python -m services.console.screenshots DIR`: a PNG of each console page, for the docs.

Starts embedded servers and the service in a temporary directory, publishes a small demo
tenant through the SDK (with one hostile name and one rejected message), serves the
console and photographs each page in Debian's Chromium through Playwright. Needs the
extras `embedded`, `console` and `dev` (Playwright) and a `chromium` on PATH.
"""

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from contracts.connection_spec import ConnectionSpec
from contracts.queries import EntitiesList, GraphTraverse
from one_bus import OneClient
from services.console.bus import ConsoleBus
from services.console.server import ConsoleServer
from services.runtime.embedded import EmbeddedServers
from services.runtime.service import OneBusService
from services.settings import Settings

TENANT = "acme"


async def _demo(one: OneClient) -> str:
    """A creator with a small world around her; returns her id."""
    actor = "01JUSER0000000000000000001"
    ada, _ = await one.upsert_entity(
        type="creator",
        name="Ada Lovelace",
        actor_id=actor,
        status="active",
        properties={"bio": "writes about engines", "followers": 1843},
    )
    people = {}
    for name in ("Grace Hopper", "Alan Turing", "Edsger Dijkstra"):
        people[name], _ = await one.upsert_entity(
            type="creator", name=name, actor_id=actor, status="active"
        )
    works = {}
    for kind, name in (
        ("blog_post", "Notes on the Analytical Engine"),
        ("course", "Programming from first principles"),
        ("video", "The engine, explained"),
        ("community", "Engine builders"),
    ):
        works[name], _ = await one.upsert_entity(type=kind, name=name, actor_id=actor)  # type: ignore[arg-type]
    await one.upsert_entity(
        type="creator",
        name='<script>alert("x")</script> "><img src=x onerror=alert(1)>',
        actor_id=actor,
    )
    links = [
        (ada, works["Notes on the Analytical Engine"], "owns"),
        (ada, works["Programming from first principles"], "owns"),
        (ada, people["Grace Hopper"], "following"),
        (people["Grace Hopper"], works["The engine, explained"], "owns"),
        (people["Alan Turing"], ada, "following"),
        (people["Edsger Dijkstra"], works["Engine builders"], "member_of"),
        (ada, works["Engine builders"], "member_of"),
    ]
    for source, target, kind in links:
        await one.create_connection(from_id=source, to_id=target, relationship_type=kind)  # type: ignore[arg-type]
    await one.set_tag(ada, "topic", "computing")
    await one.set_tag(ada, "era", "victorian")
    await one.publish_raw("entities.creator.upsert", b'{"id": "broken", "name": ')
    await one.publish_raw(
        "entities.creator.upsert", b'{"id":"01JX","type":"creator","name":"No times"}'
    )
    for _ in range(200):
        graph = await one.traverse(GraphTraverse(startId=ada, direction="both", depth=2))
        if len(graph.edges) == len(links):
            break
        await asyncio.sleep(0.1)
    return ada


async def take(directory: Path) -> list[Path]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as data:
        async with EmbeddedServers(Path(data)) as servers:
            settings = Settings(nats_url=servers.nats_url, mongodb_uri=servers.mongodb_uri)
            spec = ConnectionSpec(servers=[servers.nats_url], tenant=TENANT)
            async with OneBusService(settings), OneClient(TENANT, spec) as one:
                ada = await _demo(one)
                bus = await ConsoleBus(spec, TENANT, settings).start()
                server = await ConsoleServer(bus, port=0, sample_every_s=0.5).start()
                try:
                    async with async_playwright() as playwright:
                        browser = await playwright.chromium.launch(
                            executable_path=chromium, args=["--no-sandbox"]
                        )
                        page = await browser.new_page(viewport={"width": 1280, "height": 860})

                        async def shot(name: str, path: str) -> None:
                            if path:
                                await page.goto(server.url.rstrip("/") + path)
                            file = directory / f"console-{name}.png"
                            await page.screenshot(path=str(file), full_page=False)
                            shots.append(file)

                        await shot("records", "/records")
                        await shot("entity", f"/records/{ada}")
                        await shot("graph", f"/records/{ada}/graph?depth=2")
                        await page.goto(server.url + "live")
                        await (
                            page.get_by_test_id("live-status")
                            .filter(has_text="following")
                            .wait_for()
                        )
                        for n in range(4):
                            await one.upsert_entity(
                                type="lead", name=f"Lead {n + 1}", actor_id="u1", status="draft"
                            )
                        await page.locator("#changes tbody tr").nth(7).wait_for()
                        await shot("live", "")
                        await shot("dead-letters", "/dead-letters")
                        await page.locator("#dead-letters input[name=seq]").first.check()
                        await page.get_by_test_id("replay-selected").click()
                        await page.locator("#replayed").wait_for()
                        await shot("replayed", "")
                        await page.goto(server.url + "health")  # sampling starts
                        for n in range(60):  # load between samples: rate and latency lines
                            await one.list_entities(EntitiesList(limit=5))
                            if n % 2:
                                await one.upsert_entity(
                                    type="lead", name=f"Lead {n + 5}", actor_id="u1"
                                )
                            await asyncio.sleep(0.05)
                        await shot("health", "/health")
                        await browser.close()
                finally:
                    await server.stop()
                    await bus.close()
    return shots


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m services.console.screenshots DIR")
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    for file in asyncio.run(take(directory)):
        print(file)


if __name__ == "__main__":
    main()
