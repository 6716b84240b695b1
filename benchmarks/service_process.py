"""One ONE Bus process for the benchmarks, as in production: its own interpreter.

`python -m benchmarks.service_process <ingest|query|echo> <stats.json>`, settings from
`ONE_*` variables (echo: a trivial NATS responder, the baseline of a lookup's round trip).
Runs until SIGTERM, then stops the service (draining the batch in hand) and writes what
PyMongo command monitoring saw while it ran: the store commands by name, and when the
first write command started and the last one finished (wall clock, comparable across
processes), which is how ingest is timed from the first stored record to the last.
"""

import asyncio
import json
import signal
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import nats
from nats.aio.msg import Msg
from pymongo import monitoring

from services.runtime import event_loop
from services.runtime.service import OneBusService
from services.settings import Settings

ECHO_SUBJECT = "bench.echo"
_WRITES = frozenset({"insert", "update", "delete", "findAndModify"})


class CommandCounter(monitoring.CommandListener):
    """Store round trips, counted once the service has started (not index creation), and
    the time each kind of command took (`update entities`, `commitTransaction`, ...)."""

    def __init__(self) -> None:
        self.counting = False
        self.commands: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.first_write_started: float | None = None
        self.last_write_finished: float | None = None
        self._started: dict[int, tuple[str, float]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.counting:
            return
        name = event.command_name
        self.commands[name] += 1
        target = event.command.get(name)
        self._started[event.request_id] = (
            f"{name} {target}" if isinstance(target, str) else name,
            time.perf_counter(),
        )
        if name in _WRITES and self.first_write_started is None:
            self.first_write_started = time.time()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._finished(event.request_id)
        if self.counting and event.command_name in _WRITES:
            self.last_write_finished = time.time()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finished(event.request_id)

    def _finished(self, request_id: int) -> None:
        started = self._started.pop(request_id, None)
        if started is not None:
            kind, at = started
            self.seconds[kind] += time.perf_counter() - at


async def main(role: str, stats_path: Path) -> None:
    counter = CommandCounter()
    monitoring.register(counter)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    settings = Settings()
    if role == "echo":
        await echo(settings, stop)
        return
    async with OneBusService(settings, ingest=role == "ingest", query=role == "query"):
        counter.counting = True
        # The parent waits for this line before it starts the clock or sends requests.
        print("ready", flush=True)
        await stop.wait()
    stats = {
        "commands": dict(counter.commands),
        "seconds": dict(counter.seconds),
        "first_write_started": counter.first_write_started,
        "last_write_finished": counter.last_write_finished,
    }
    stats_path.write_text(json.dumps(stats))  # noqa: ASYNC240 (once, at exit)


async def echo(settings: Settings, stop: asyncio.Event) -> None:
    client = await nats.connect(settings.nats_url)

    async def answer(msg: Msg) -> None:
        await msg.respond(msg.data)

    await client.subscribe(ECHO_SUBJECT, cb=answer)
    await client.flush()
    print("ready", flush=True)
    await stop.wait()
    await client.close()


if __name__ == "__main__":
    # On the loop `serve` runs on; the echo responder too, so both sides of a lookup's
    # ratio pay the same event loop.
    event_loop.run(main(sys.argv[1], Path(sys.argv[2])), Settings().event_loop)
