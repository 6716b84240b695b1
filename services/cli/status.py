"""`one-bus status`: the ingest backlog and each consumer's lag, like `nats stream info`
and `nats consumer info` for ONE Bus's streams at once.

Streams are grouped: `ingest` (`ONE_INGEST`, and in the per-tenant layout every
`ONE_INGEST_<tenant>`), `changes`, `dlq`, and `other` (the live queries' KV bucket, ...).
For each stream: messages, bytes, first and last sequence; for each of its consumers:
pending (not yet delivered), ack pending (delivered, not yet acknowledged), redelivered,
and lag (the stream's last sequence minus the consumer's ack floor: what it has still to
finish). Needs the JetStream API (the operator identity on a secured bus).
"""

from dataclasses import asdict, dataclass, field
from typing import Annotated, Final, Literal

import typer
from nats.js.api import ConsumerInfo, StreamInfo

from one_bus.client import OneClient
from services.cli.connect import ANY_TENANT, Credentials, NatsUrl, run
from services.cli.output import print_json, print_table
from services.settings import Settings

Group = Literal["ingest", "changes", "dlq", "other"]
_ORDER: Final[tuple[Group, ...]] = ("ingest", "changes", "dlq", "other")


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    pending: int
    ackPending: int
    redelivered: int
    lag: int

    @classmethod
    def of(cls, info: ConsumerInfo, last_seq: int) -> "ConsumerStatus":
        floor = info.ack_floor.stream_seq if info.ack_floor and info.ack_floor.stream_seq else 0
        return cls(
            name=info.name,
            pending=info.num_pending or 0,
            ackPending=info.num_ack_pending or 0,
            redelivered=info.num_redelivered or 0,
            lag=max(last_seq - floor, 0),
        )


@dataclass(frozen=True)
class StreamStatus:
    name: str
    group: Group
    messages: int
    bytes: int
    firstSeq: int
    lastSeq: int
    consumers: list[ConsumerStatus] = field(default_factory=list)


def group_of(stream: str, settings: Settings) -> Group:
    if stream == settings.ingest_stream or stream.startswith(f"{settings.ingest_stream}_"):
        return "ingest"
    if stream == settings.changes_stream:
        return "changes"
    if stream == settings.dlq_stream:
        return "dlq"
    return "other"


async def collect(client: OneClient, settings: Settings) -> list[StreamStatus]:
    js = client.jetstream
    found: list[StreamStatus] = []
    infos: list[StreamInfo] = await js.streams_info()
    for info in infos:
        state = info.state
        group = group_of(info.config.name or "", settings)
        consumers = []
        if group == "ingest":
            consumers = [
                ConsumerStatus.of(consumer, state.last_seq)
                for consumer in await js.consumers_info(info.config.name or "")
            ]
        found.append(
            StreamStatus(
                name=info.config.name or "",
                group=group,
                messages=state.messages,
                bytes=state.bytes,
                firstSeq=state.first_seq,
                lastSeq=state.last_seq,
                consumers=sorted(consumers, key=lambda c: c.name),
            )
        )
    return sorted(found, key=lambda s: (_ORDER.index(s.group), s.name))


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: every stream.")] = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """The ingest backlog and consumer lag: every ONE Bus stream and ingest consumer."""
    settings = Settings()

    async def work(client: OneClient) -> list[StreamStatus]:
        return await collect(client, settings)

    streams = run(ANY_TENANT, nats_url, credentials, work)
    if as_json:
        print_json({"streams": [asdict(stream) for stream in streams]}, compact=True)
        return
    print_table(
        ("group", "stream", "messages", "bytes", "first seq", "last seq"),
        [
            (s.group, s.name, str(s.messages), _size(s.bytes), str(s.firstSeq), str(s.lastSeq))
            for s in streams
        ],
        title="streams",
    )
    print_table(
        ("stream", "consumer", "pending", "ack pending", "redelivered", "lag"),
        [
            (s.name, c.name, str(c.pending), str(c.ackPending), str(c.redelivered), str(c.lag))
            for s in streams
            for c in s.consumers
        ],
        title="ingest consumers",
    )
