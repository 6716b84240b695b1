"""One ONE Bus process for the benchmarks, as in production: its own interpreter.

`python -m benchmarks.service_process <role> <stats.json>`, settings from `ONE_*`
variables. Roles: `ingest` and `query` (ONE Bus), and the plain clients ONE Bus is
measured against: `echo` (a trivial NATS responder, the baseline of a lookup's round
trip), `plain-ingest` (fetch a batch, parse, bulk write, ack each), `plain-republish`
(the same, and each record published to JetStream and acknowledged before the acks: the
least a bus that republishes what it stored has to do) and `plain-lookup` (receive,
`find_one` or the page's aggregation, reply).
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
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from pymongo import AsyncMongoClient, WriteConcern, monitoring

from contracts.nats_headers import HEADER_MSG_ID
from contracts.subjects import ALL_SUBJECTS, change_subject
from services.runtime import event_loop
from services.runtime.service import OneBusService
from services.settings import Settings

ECHO_SUBJECT = "bench.echo"
# The plain ingest client's durable consumer on the ingest stream (the parent declares it).
PLAIN_CONSUMER = "bench-plain"
# The plain lookup responder: `<subject>.get` ({"id"}) and `<subject>.list` ({"type"}).
PLAIN_LOOKUP_SUBJECT = "bench.plain"
PLAIN_TENANT = "bench"
PLAIN_PAGE = 20
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
    starting = asyncio.current_task()

    def terminated() -> None:
        # SIGTERM before "ready" (the parent gave up waiting): the start is abandoned, so
        # a start stuck on servers that are gone never outlives the benchmark.
        if not stop.is_set() and not ready.is_set() and starting is not None:
            starting.cancel()
        stop.set()

    ready = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, terminated)
    settings = Settings()
    plain = {
        "echo": echo,
        "plain-ingest": plain_ingest,
        "plain-republish": plain_republish,
        "plain-lookup": plain_lookup,
    }
    if role in plain:
        ready.set()  # the plain clients check `stop` themselves
        await plain[role](settings, stop)
        return
    async with OneBusService(settings, ingest=role == "ingest", query=role == "query"):
        counter.counting = True
        ready.set()
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


async def plain_ingest(settings: Settings, stop: asyncio.Event) -> None:
    """What a user would write without ONE Bus: fetch a batch, parse every body, one
    `insert_many` with the service's write concern, then ack each message."""
    await _plain_consume(settings, stop, republish=False)


async def plain_republish(settings: Settings, stop: asyncio.Event) -> None:
    """`plain-ingest`, and before the acks each record published on a changes subject with
    a message id, one reply subject and one wait for the whole batch's acknowledgements."""
    await _plain_consume(settings, stop, republish=True)


async def _plain_consume(settings: Settings, stop: asyncio.Event, *, republish: bool) -> None:
    client = await nats.connect(settings.nats_url)
    js = client.jetstream()
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri)
    concern = WriteConcern(w="majority", j=settings.mongodb_journal)
    records = mongo.get_database(settings.mongodb_db, write_concern=concern)["plain"]
    subscription = await js.pull_subscribe(
        ALL_SUBJECTS, durable=PLAIN_CONSUMER, stream=settings.ingest_stream
    )
    acknowledged = _Acknowledgements(client)
    subject = change_subject(PLAIN_TENANT, "plain", "record")
    print("ready", flush=True)
    while not stop.is_set():
        try:
            batch = await subscription.fetch(settings.batch_size, timeout=1.0)
        except TimeoutError:
            continue
        if not batch:
            continue
        await records.insert_many([json.loads(msg.data) for msg in batch], ordered=False)
        if republish:
            reply, stored = await acknowledged.expect(len(batch))
            for msg in batch:
                # The ack subject's stream sequence: the record's id across redeliveries.
                msg_id = msg.reply.split(".")[5]
                await client.publish(
                    subject, msg.data, reply=reply, headers={HEADER_MSG_ID: msg_id}
                )
            await asyncio.wait_for(stored, settings.publish_ack_timeout_s)
        for msg in batch:
            await msg.ack()
    await client.close()
    await mongo.close()


class _Acknowledgements:
    """JetStream's acknowledgements of a batch's publishes, counted on one subscription."""

    def __init__(self, client: NatsClient) -> None:
        self._client = client
        self._prefix: str | None = None
        self._waiting: dict[str, tuple[list[int], asyncio.Future[None]]] = {}
        self._batches = 0

    async def expect(self, count: int) -> tuple[str, asyncio.Future[None]]:
        if self._prefix is None:
            self._prefix = f"{self._client.new_inbox()}."
            await self._client.subscribe(f"{self._prefix}*", cb=self._received)
        self._batches += 1
        reply = f"{self._prefix}{self._batches}"
        stored = asyncio.get_running_loop().create_future()
        self._waiting[reply] = ([count], stored)
        stored.add_done_callback(lambda _: self._waiting.pop(reply, None))
        return reply, stored

    async def _received(self, msg: Msg) -> None:
        waiting = self._waiting.get(msg.subject)
        if waiting is None:
            return
        left, stored = waiting
        if b'"error"' in msg.data:
            stored.set_exception(RuntimeError(msg.data.decode()))
            return
        left[0] -= 1
        if left[0] == 0:
            stored.set_result(None)


async def plain_lookup(settings: Settings, stop: asyncio.Event) -> None:
    """What a user would write without ONE Bus: receive, parse, read, reply."""
    client = await nats.connect(settings.nats_url)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_uri)
    entities = mongo[settings.mongodb_db]["entities"]

    async def get(msg: Msg) -> None:
        key = f"{PLAIN_TENANT}:{json.loads(msg.data)['id']}"
        document = await entities.find_one({"_id": key})
        await msg.respond(
            json.dumps({"ok": True, "data": document}, default=str, separators=(",", ":")).encode()
        )

    async def page(msg: Msg) -> None:
        match = {"groupId": PLAIN_TENANT, "type": json.loads(msg.data)["type"], "deletedAt": None}
        pipeline: list[dict[str, object]] = [
            {"$match": match},
            {"$sort": {"createdAt": -1, "_id": -1}},
            {"$limit": PLAIN_PAGE + 1},
        ]
        documents = await (await entities.aggregate(pipeline)).to_list()
        await msg.respond(
            json.dumps({"ok": True, "data": documents}, default=str, separators=(",", ":")).encode()
        )

    await client.subscribe(f"{PLAIN_LOOKUP_SUBJECT}.get", cb=get)
    await client.subscribe(f"{PLAIN_LOOKUP_SUBJECT}.list", cb=page)
    await client.flush()
    print("ready", flush=True)
    await stop.wait()
    await client.close()
    await mongo.close()


if __name__ == "__main__":
    # On the loop `serve` runs on; the echo responder too, so both sides of a lookup's
    # ratio pay the same event loop.
    event_loop.run(main(sys.argv[1], Path(sys.argv[2])), Settings().event_loop)
