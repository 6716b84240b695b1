"""`one-bus import FILE.jsonl`: publish many messages at once, then say what became of each.

One message per line, a JSON object:

    {"subject": "entities.creator.upsert", "payload": {...}, "headers": {"X-Source": "crm"}}

- `subject`: under `--tenant` (`events.payment_event`), or a full `one.v1.<tenant>...`;
- `payload`: the message body, any JSON (sent as its JSON text);
- `headers`: optional NATS headers (a protocol message's `One-Actor-Id`, ...).

Blank lines and lines starting with `#` are skipped. `Nats-Msg-Id` is the line's own if
given, else the record id for events and connection creates, else a hash of the subject
and payload: importing the same file twice stores nothing twice.

Publishes run concurrently with at most `--max-in-flight` unacknowledged, each asking for
its outcome (docs/outcomes.md). Once every line is acknowledged, the import waits (at most
`--wait` seconds, "waiting for ingest") for the outcomes: each line is counted as stored
(by what it did: created, updated, unchanged...) or dead-lettered with its reason, from
what ingest answered. A line the stream already had (a re-run: same message id) is not
answered by ingest; its earlier fate is looked up in the dead-letter stream, so a line
dead-lettered the first time is dead-lettered on a re-run too, never "accepted". Exit
codes: 0 every line accepted; 2 some lines were dead-lettered, skipped or not
acknowledged; 3 ingest had not answered for them all within `--wait`; 1 cannot connect.
"""

import asyncio
import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.command_kinds import record_msg_id
from contracts.dead_letters import HEADER_ERROR, HEADER_REASON, HEADER_STREAM, HEADER_STREAM_SEQ
from contracts.outcomes import Rejected
from contracts.protocols.envelope import HEADER_RECORD_ID
from contracts.subjects import (
    SubjectError,
    dlq_subject,
    is_qualified,
    parse_ingest_subject,
    qualified,
)
from one_bus.client import OneClient
from one_bus.errors import OutcomeTimeoutError, PublishError
from one_bus.outcomes import PendingOutcome
from services.cli.connect import Credentials, NatsUrl, Tenant, fail, run
from services.cli.output import print_json
from services.ingest.lanes import lane_consumer
from services.settings import Settings

err = Console(stderr=True)
MAX_EXAMPLES: Final = 5


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    subject: str
    data: bytes
    headers: dict[str, str]


StreamSeq = tuple[str, int]
"""Where a message is: its ingest stream and its sequence there."""


@dataclass(slots=True)
class Outcome:
    lines: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    # Where each line is in the ingest streams → its line numbers (a duplicate line shares
    # its first's place).
    acked: dict[StreamSeq, list[int]] = field(default_factory=dict)
    duplicates: int = 0
    # What the stored lines did (created, updated, unchanged, ...), from their outcomes.
    stored: Counter[str] = field(default_factory=Counter)
    dead: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, error
    # Lines in the stream whose outcome did not come within --wait.
    unanswered: list[int] = field(default_factory=list)
    processed: bool = False

    @property
    def accepted(self) -> int:
        unknown = {line for line, _, _ in self.dead} | set(self.unanswered)
        return sum(1 for lines in self.acked.values() for n in lines if n not in unknown)

    def summary(self) -> dict[str, Any]:
        reasons = Counter(reason for _, reason, _ in self.dead)
        return {
            "lines": self.lines,
            "accepted": self.accepted,
            "deadLettered": len(self.dead),
            "duplicates": self.duplicates,
            "stored": dict(self.stored),
            "unanswered": len(self.unanswered),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "processed": self.processed,
            "reasons": dict(reasons),
            "deadLetters": [
                {"line": line, "reason": reason, "error": error}
                for line, reason, error in self.dead
            ],
            "skippedLines": [{"line": n, "error": why} for n, why in self.skipped],
            "failedLines": [{"line": n, "error": why} for n, why in self.failed],
        }


def default_msg_id(subject: str, payload: Any, data: bytes) -> str:
    parsed = parse_ingest_subject(subject)
    record_id = record_msg_id(parsed.kind, parsed.op, payload)
    if record_id is not None:
        return record_id
    digest = hashlib.sha256(subject.encode() + b"\n" + data).hexdigest()[:40]
    return f"imp-{digest}"


def parse_line(number: int, text: str, tenant: str) -> Line | str:
    """A line to publish, or why it cannot be."""
    try:
        document = json.loads(text)
    except ValueError as error:
        return f"not JSON: {error}"
    if not isinstance(document, dict) or not isinstance(document.get("subject"), str):
        return 'expected {"subject": ..., "payload": ..., "headers"?: {...}}'
    unknown = set(document) - {"subject", "payload", "headers"}
    if unknown:
        return f"unknown keys: {', '.join(sorted(unknown))}"
    subject: str = document["subject"]
    if not is_qualified(subject) and not tenant:
        return "a relative subject needs --tenant"
    subject = qualified(tenant, subject)
    try:
        parse_ingest_subject(subject)
    except SubjectError as error:
        return str(error)
    headers = document.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        return "`headers` must map names to strings"
    if "payload" not in document:
        return "`payload` is missing"
    data = json.dumps(document["payload"], ensure_ascii=False, separators=(",", ":")).encode()
    if not any(name.lower() == HEADER_RECORD_ID.lower() for name in headers):
        headers = {**headers, HEADER_RECORD_ID: default_msg_id(subject, document["payload"], data)}
    return Line(number, subject, data, headers)


def read_lines(source: Path, tenant: str, outcome: Outcome) -> list[Line]:
    text = sys.stdin.read() if str(source) == "-" else source.read_text()
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        outcome.lines += 1
        parsed = parse_line(number, raw, tenant)
        if isinstance(parsed, Line):
            lines.append(parsed)
        else:
            outcome.skipped.append((number, parsed))
    return lines


def _progress(title: str, show: bool) -> Progress:
    return Progress(
        TextColumn(title),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not show,
    )


async def publish_all(
    client: OneClient, lines: list[Line], outcome: Outcome, max_in_flight: int, show: bool
) -> list[tuple[Line, PendingOutcome]]:
    """Publish every line asking for its outcome; the lines in the stream, to wait for."""
    slots = asyncio.Semaphore(max_in_flight)
    progress = _progress("importing", show)
    in_stream: list[tuple[Line, PendingOutcome]] = []

    async def one(line: Line, task: Any) -> None:
        try:
            pending = await client.submit_raw(line.subject, line.data, line.headers)
        except (PublishError, NatsError) as error:
            outcome.failed.append((line.number, str(error)))
        else:
            ack = pending.published
            outcome.acked.setdefault((ack.stream, ack.seq), []).append(line.number)
            outcome.duplicates += ack.duplicate
            in_stream.append((line, pending))
        finally:
            slots.release()
            progress.advance(task)

    with progress:
        task = progress.add_task("import", total=len(lines))
        pending: set[asyncio.Task[None]] = set()
        for line in lines:
            # Bounded: at most `max_in_flight` publishes await their acks at once.
            await slots.acquire()
            job = asyncio.create_task(one(line, task))
            pending.add(job)
            job.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
    return in_stream


async def collect_outcomes(
    in_stream: list[tuple[Line, PendingOutcome]], outcome: Outcome, wait_s: float, show: bool
) -> dict[StreamSeq, list[int]]:
    """Count each line by its outcome, within `wait_s` in all; returns the lines the
    stream had already (where they are → line numbers), which ingest does not answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    earlier: dict[StreamSeq, list[int]] = {}
    progress = _progress("waiting for ingest", show)

    async def one(line: Line, pending: PendingOutcome, task: Any) -> None:
        try:
            result = await pending.wait(max(0.0, deadline - loop.time()))
        except OutcomeTimeoutError:
            outcome.unanswered.append(line.number)
            return
        finally:
            progress.advance(task)
        if isinstance(result, Rejected):
            outcome.dead.append((line.number, result.code, result.message))
        elif result.duplicate:
            earlier.setdefault((result.stream, result.seq), []).append(line.number)
        else:
            outcome.stored[result.effect] += 1

    with progress:
        task = progress.add_task("outcomes", total=len(in_stream))
        await asyncio.gather(*(one(line, pending, task) for line, pending in in_stream))
    outcome.unanswered.sort()
    return earlier


async def wait_processed(
    client: OneClient, settings: Settings, tenants: set[str], last: dict[str, int], wait_s: float
) -> bool:
    """Whether each tenant's ingest lane acknowledged everything up to the last sequence
    of its stream in `last` (or everything it had) within `wait_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            done = True
            for tenant in tenants:
                stream, durable = lane_consumer(settings, tenant)
                try:
                    info = await client.jetstream.consumer_info(stream, durable)
                except NotFoundError:
                    # A new tenant's lane opens at ingest's next discovery round.
                    done = False
                    continue
                floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
                # A lane's floor stops at the tenant's own last message: with several
                # tenants in one stream, an idle lane is done too.
                idle = not info.num_pending and not info.num_ack_pending
                done = done and ((floor or 0) >= last.get(stream, 0) or idle)
            if done:
                return True
        except NatsError:
            # No consumer info (not permitted): nothing to wait on.
            return False
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.2)


async def read_dead_letters(
    client: OneClient, lines: dict[StreamSeq, list[int]], tenants: set[str], outcome: Outcome
) -> None:
    """The dead letters of `lines` (where they are in the ingest streams → line numbers)
    in the tenants' dead-letter streams, from their start."""
    for tenant in sorted(tenants):
        await _read_tenant_dead_letters(client, lines, dlq_subject(tenant, "*"), outcome)


async def _read_tenant_dead_letters(
    client: OneClient, lines: dict[StreamSeq, list[int]], subject: str, outcome: Outcome
) -> None:
    seq = 1
    while True:
        try:
            raw = await client.jetstream.get_msg(
                client.dlq_stream, seq=seq, subject=subject, next=True
            )
        except (NotFoundError, NatsError):
            return
        headers = dict(raw.headers or {})
        # Sequences alone are not enough: each tenant's own stream counts from 1.
        stream, original = headers.get(HEADER_STREAM, ""), headers.get(HEADER_STREAM_SEQ, "")
        place = (stream, int(original)) if original.isdigit() else None
        for number in lines.get(place, []) if place is not None else []:
            outcome.dead.append(
                (number, headers.get(HEADER_REASON, ""), headers.get(HEADER_ERROR, ""))
            )
        seq = (raw.seq or seq) + 1


def print_summary(outcome: Outcome) -> None:
    table = Table("", "lines", title="import summary", title_justify="left")
    table.add_row("read", str(outcome.lines))
    table.add_row("[green]accepted[/]", str(outcome.accepted))
    table.add_row("  of which duplicates", str(outcome.duplicates))
    for effect, count in sorted(outcome.stored.items()):
        table.add_row(f"  {effect}", str(count))
    table.add_row("[red]dead-lettered[/]", str(len(outcome.dead)))
    table.add_row("[yellow]skipped[/] (bad lines)", str(len(outcome.skipped)))
    table.add_row("[red]not acknowledged[/]", str(len(outcome.failed)))
    table.add_row("[yellow]no outcome in time[/]", str(len(outcome.unanswered)))
    err.print(table)
    if not outcome.processed:
        err.print(
            "[yellow]ingest had not answered for every line within --wait: "
            "dead letters may be missing[/]"
        )
    for reason, count in Counter(reason for _, reason, _ in outcome.dead).most_common():
        err.print(f"[red]{reason}[/]: {count}")
        for line, _, error in [d for d in outcome.dead if d[1] == reason][:MAX_EXAMPLES]:
            err.print(f"  line {line}: {error}", highlight=False)
    for title, entries in (("skipped", outcome.skipped), ("not acknowledged", outcome.failed)):
        for line, why in entries[:MAX_EXAMPLES]:
            err.print(f"[yellow]{title}[/] line {line}: {why}", highlight=False)


def import_(
    source: Annotated[Path, typer.Argument(help="A .jsonl file (`-` for stdin).")],
    tenant: Tenant = "",
    max_in_flight: Annotated[
        int, typer.Option(min=1, max=10_000, help="Publishes awaiting their ack at once.")
    ] = 256,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for ingest's outcomes of the lines.")
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Publish every line of a JSONL file; report what was accepted and what dead-lettered."""
    if str(source) != "-" and not source.is_file():
        fail(f"{source}: no such file", 2)
    outcome = Outcome()
    lines = read_lines(source, tenant, outcome)
    tenants = {parse_ingest_subject(line.subject).tenant for line in lines}
    settings = Settings()

    async def work(client: OneClient) -> None:
        started = asyncio.get_running_loop().time()
        in_stream = await publish_all(client, lines, outcome, max_in_flight, show=not as_json)
        earlier = await collect_outcomes(in_stream, outcome, wait, show=not as_json)
        outcome.processed = not outcome.unanswered
        if earlier:
            # In the stream before this run: done by ingest, stored or dead-lettered?
            left = max(0.0, wait - (asyncio.get_running_loop().time() - started))
            last: dict[str, int] = {}
            for stream, seq in earlier:
                last[stream] = max(seq, last.get(stream, 0))
            done = await wait_processed(client, settings, tenants, last, left)
            await read_dead_letters(client, earlier, tenants, outcome)
            outcome.processed = outcome.processed and done
        outcome.dead.sort()

    # The connection's tenant only matters for relative subjects, resolved above.
    run(tenant or next(iter(tenants), "_"), nats_url, credentials, work)
    if as_json:
        print_json(outcome.summary(), compact=True)
    else:
        print_summary(outcome)
    if outcome.dead or outcome.skipped or outcome.failed:
        raise typer.Exit(2)
    if not outcome.processed:
        raise typer.Exit(3)
