"""`one-bus dlq list | show | replay | purge`: inspect dead letters, republish fixed ones,
clear what is not wanted.

Every command connects like every client command (services/cli/connect.py): a dead
letter is read with the identity's own permissions (operators read every tenant's,
`-t/--tenant` or ONE_TENANT narrows to one). Bulk replay and purge select by reason,
tenant and time, count first, ask at a terminal (refuse without `--yes` elsewhere), and
work in chunks of `CHUNK`, at most `--max` per run; Ctrl-C stops between chunks, after
the chunk in hand is finished.
"""

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Final, TypeVar

import typer
from nats.js.errors import NotFoundError

from contracts.outcomes import Rejected, Stored
from one_bus.client import OneClient
from one_bus.outcomes import OutcomeInbox
from services.cli.connect import ANY_TENANT, CliError, Credentials, NatsUrl, fail, run
from services.cli.output import out, print_json, print_table, say
from services.cli.tail import parse_since
from services.ingest.dead_letter_box import DeadLetter, DeadLetterBox
from services.settings import Settings

app = typer.Typer(
    help="Inspect, replay and purge dead letters (rejected input).",
    no_args_is_help=True,
)
T = TypeVar("T")
# A bulk replay or purge works this many dead letters at a time: Ctrl-C takes effect
# between chunks, and each chunk is read, published and deleted before the next is read.
CHUNK: Final = 100
# Without --max, a bulk replay or purge handles at most this many per run.
DEFAULT_MAX: Final = 1000

TenantFilter = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        "-t",
        envvar="ONE_TENANT",
        help="Only this tenant's dead letters (default: every tenant the identity may read).",
        show_default=False,
    ),
]
Reason = Annotated[
    str | None,
    typer.Option(help="Only this reason, e.g. invalid_payload.", show_default=False),
]
Since = Annotated[
    str | None,
    typer.Option(
        help="Only dead letters since then: 10m, 2h (ago), an ISO time or epoch ms.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command works on."""

    tenant: str | None = None
    reason: str | None = None
    since: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return self.since is None or (letter.time is not None and letter.time >= self.since)

    def describe(self) -> str:
        parts = [
            f"tenant {self.tenant}" if self.tenant else "every tenant",
            f"reason {self.reason}" if self.reason else "any reason",
        ]
        if self.since is not None:
            parts.append(f"since {self.since.isoformat(timespec='seconds')}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Replayed:
    """What one replay did: the dead letter, where it went, the stream's answer, and what
    ingest made of it (None: no outcome in time)."""

    seq: int
    subject: str
    ingest_seq: int
    kept: bool
    outcome: Stored | Rejected | None

    def as_json(self) -> dict[str, object]:
        outcome = None if self.outcome is None else self.outcome.model_dump(mode="json")
        return {
            "seq": self.seq,
            "subject": self.subject,
            "ingestSeq": self.ingest_seq,
            "kept": self.kept,
            "outcome": outcome,
        }


@dataclass(frozen=True)
class Letters:
    """The dead letters, over one connection, and the inbox their replays' outcomes come to."""

    box: DeadLetterBox
    outcomes: OutcomeInbox


async def replay_one(
    letters: Letters,
    letter: DeadLetter,
    *,
    wait_s: float,
    data: bytes | None = None,
    keep: bool = False,
) -> Replayed:
    """Publish one replay of `letter` (with `data` as a fixed body, if given) asking for its
    outcome, and wait up to `wait_s` for it: what single and bulk replay both do."""
    target, answer = await letters.outcomes.expect()
    try:
        ingest_seq = await letters.box.replay(letter, data=data, keep=keep, outcome_to=target)
        try:
            outcome: Stored | Rejected | None = await asyncio.wait_for(answer, wait_s)
        except TimeoutError:
            outcome = None
    finally:
        letters.outcomes.forget(target)
    return Replayed(letter.seq, letter.original_subject, ingest_seq, keep, outcome)


def _letters(client: OneClient) -> Letters:
    settings = Settings()
    box = DeadLetterBox(client.jetstream, settings.dlq_stream, settings.ingest_stream)
    return Letters(box, OutcomeInbox(client.nats))


def _run(
    tenant: str | None,
    nats_url: str | None,
    credentials: Path | None,
    work: Callable[[Letters], Awaitable[T]],
) -> T:
    async def on_box(client: OneClient) -> T:
        try:
            return await work(_letters(client))
        except NotFoundError as error:
            raise CliError(f"no such dead letter (or no {Settings().dlq_stream} stream)") from error

    return run(tenant or ANY_TENANT, nats_url, credentials, on_box)


async def _selected(
    box: DeadLetterBox, selection: Selection, *, after: int = 0, up_to: int | None = None
) -> AsyncIterator[DeadLetter]:
    async for letter in box.scan(tenant=selection.tenant, reason=selection.reason, after=after):
        if up_to is not None and letter.seq > up_to:
            return
        if selection.matches(letter):
            yield letter


def _preview(data: bytes, width: int = 60) -> str:
    text = data.decode("utf-8", errors="replace").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary(letter: DeadLetter) -> dict[str, object]:
    return {
        "seq": letter.seq,
        "subject": letter.original_subject,
        "reason": letter.reason,
        "error": letter.error,
        "headers": letter.original_headers(),
        "payload": letter.data.decode("utf-8", errors="replace"),
        # Still cut: the ingest stream no longer holds the original (past its max age).
        "cut": letter.cut,
    }


@app.command("list")
def list_(
    tenant: TenantFilter = None,
    reason: Reason = None,
    since: Since = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    all_: Annotated[bool, typer.Option("--all", help="Every one, however many.")] = False,
    after: Annotated[
        int, typer.Option(min=0, help="Start after this dead letter's sequence (the next page).")
    ] = 0,
    as_json: AsJson = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """List dead letters, oldest first, and how many there are."""
    selection = Selection(tenant, reason, parse_since(since) if since else None)

    async def work(dlq: Letters) -> tuple[list[DeadLetter], int]:
        box = dlq.box
        letters: list[DeadLetter] = []
        total = 0
        async for letter in _selected(box, selection, after=after):
            total += 1  # counted to the end: the hint says how many are left
            if all_ or len(letters) < limit:
                letters.append(letter)
        return letters, total

    letters, total = _run(tenant, nats_url, credentials, work)
    if as_json:
        for letter in letters:
            print_json(_summary(letter), compact=True)
    else:
        print_table(
            ("seq", "time", "subject", "reason", "error", "payload"),
            [
                (
                    str(letter.seq),
                    letter.time.isoformat(timespec="seconds") if letter.time else "",
                    letter.original_subject,
                    letter.reason,
                    letter.error,
                    _preview(letter.data),
                )
                for letter in letters
            ],
            prose=("error", "payload"),
        )
    if len(letters) < total:
        say(
            f"showing {len(letters)} of {total} dead letters (next page: --after "
            f"{letters[-1].seq}; or use --limit N / --all)"
        )
    elif not as_json:
        say(f"{total} dead letter(s)")


@app.command()
def show(
    seq: Annotated[int, typer.Argument(help="The dead letter's sequence.")],
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Show one dead letter: reason, headers and the original payload."""

    async def work(letters: Letters) -> DeadLetter:
        return await letters.box.get(seq)

    print_json(_summary(_run(None, nats_url, credentials, work)))


@contextlib.contextmanager
def _stop_between_chunks() -> Iterator[asyncio.Event]:
    """Ctrl-C sets the event (checked between chunks) instead of interrupting a chunk."""
    stop = asyncio.Event()
    previous = signal.getsignal(signal.SIGINT)

    def interrupted(_signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.set()
        say("stopping after this chunk (Ctrl-C again to stop at once)")

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _confirm(verb: str, count: int, selection: Selection, yes: bool) -> None:
    if yes or count == 0:
        return
    if not sys.stdin.isatty():
        fail(f"{verb} {count} dead letter(s) ({selection.describe()})? Give --yes to confirm", 2)
    if not typer.confirm(f"{verb} {count} dead letter(s) ({selection.describe()})?"):
        fail("nothing done", 1)


async def _chunks(
    box: DeadLetterBox, selection: Selection, limit: int, up_to: int
) -> AsyncIterator[list[DeadLetter]]:
    """The selected dead letters up to sequence `up_to`, `CHUNK` at a time, at most
    `limit`; each chunk is read after the previous one was handled."""
    after, taken = 0, 0
    while taken < limit:
        chunk: list[DeadLetter] = []
        async for letter in _selected(box, selection, after=after, up_to=up_to):
            chunk.append(letter)
            if len(chunk) >= min(CHUNK, limit - taken):
                break
        if not chunk:
            return
        yield chunk
        taken += len(chunk)
        after = chunk[-1].seq


def _bulk(
    verb: str,
    selection: Selection,
    limit: int,
    dry_run: bool,
    yes: bool,
    nats_url: str | None,
    credentials: Path | None,
    act: Callable[[Letters, DeadLetter], Awaitable[T]],
) -> tuple[int, int, list[T]]:
    """Count, confirm, then act on each selected dead letter in chunks: returns (how many
    were selected, how many in all match, what `act` returned for each one done)."""

    async def count(letters: Letters) -> tuple[int, int]:
        box = letters.box
        # Dead letters a replay itself produces come after this one: never chased.
        up_to = await box.last_seq()
        matching = 0
        async for _ in _selected(box, selection, up_to=up_to):
            matching += 1
        return matching, up_to

    matching, up_to = _run(selection.tenant, nats_url, credentials, count)
    selected = min(matching, limit)
    if matching > limit:
        say(f"{matching} match; this run takes the first {limit} (raise it with --max)")
    if dry_run or selected == 0:
        return selected, matching, []
    _confirm(verb, selected, selection, yes)

    async def work(letters: Letters) -> list[T]:
        with _stop_between_chunks() as stop:
            return await chunk_by_chunk(
                _chunks(letters.box, selection, limit, up_to),
                lambda letter: act(letters, letter),
                stop,
                lambda done: say(f"{verb}: {done} of {selected}"),
            )

    try:
        return selected, matching, _run(selection.tenant, nats_url, credentials, work)
    except KeyboardInterrupt:
        # The second Ctrl-C: the chunk in hand may be partly done (each dead letter is
        # replayed before it is deleted, so none is lost; a replay may be repeated).
        say(f"{verb}: stopped at once, within a chunk")
        raise typer.Exit(130) from None


async def chunk_by_chunk(
    chunks: AsyncIterator[list[DeadLetter]],
    act: Callable[[DeadLetter], Awaitable[T]],
    stop: asyncio.Event,
    progress: Callable[[int], None],
) -> list[T]:
    """`act` on every dead letter of every chunk, stopping between chunks once `stop` is
    set (the chunk in hand is always finished); what `act` returned, in order."""
    done: list[T] = []
    async for chunk in chunks:
        for letter in chunk:
            done.append(await act(letter))
        progress(len(done))
        if stop.is_set():
            break
    return done


MaxPerRun = Annotated[int, typer.Option("--max", min=1, help="At most this many in this run.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only count what would be done.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@app.command()
def replay(
    seqs: Annotated[
        list[int] | None,
        typer.Argument(
            help="Sequences of the dead letters to replay (or select with --reason...)."
        ),
    ] = None,
    payload: Annotated[
        Path | None,
        typer.Option(
            help="A fixed body to publish instead (one sequence only).", show_default=False
        ),
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the dead letter after replaying it.")] = False,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for each replay's outcome.")
    ] = 10.0,
    tenant: TenantFilter = None,
    reason: Reason = None,
    since: Since = None,
    limit: MaxPerRun = DEFAULT_MAX,
    dry_run: DryRun = False,
    yes: Yes = False,
    as_json: AsJson = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Republish dead letters to the subjects they came from: the ones named, or all that
    match --reason/--tenant/--since (counted first, confirmed, in chunks)."""
    bulk = reason is not None or since is not None or (tenant is not None and not seqs)
    if seqs and bulk and (reason is not None or since is not None):
        fail("give sequences or a selection (--reason, --since), not both", 2)
    if not seqs and not bulk:
        fail("give the sequences to replay, or select them with --reason/--since/--tenant", 2)
    if payload is not None and (bulk or len(seqs or []) != 1):
        fail("--payload replaces one message's body: give one sequence", 2)
    data = payload.read_bytes() if payload is not None else None

    def report(done: list[Replayed]) -> None:
        """Each replay and what became of it; exit 3 if one was rejected again, 4 if one's
        outcome did not come in time."""
        for one in done:
            if as_json:
                print_json(one.as_json(), compact=True)
                continue
            kept = ", kept" if one.kept else ""
            where = f"{one.subject} (ingest seq {one.ingest_seq}{kept})"
            replayed = f"replayed dead letter {one.seq} to {where}"
            if isinstance(one.outcome, Stored):
                what = ", ".join(f"{r.collection} {r.id} {r.effect}" for r in one.outcome.records)
                out.print(f"{replayed}: [green]stored[/]: {what or 'no record'}", highlight=False)
            elif isinstance(one.outcome, Rejected):
                out.print(
                    f"{replayed}: [red]rejected again: {one.outcome.code}[/]: "
                    f"{one.outcome.message}",
                    highlight=False,
                )
            else:
                out.print(f"{replayed}: no outcome within {wait:g} s", highlight=False)
        if any(isinstance(one.outcome, Rejected) for one in done):
            raise typer.Exit(3)
        if any(one.outcome is None for one in done):
            raise typer.Exit(4)

    if seqs:

        async def named(letters: Letters) -> list[Replayed]:
            return [
                await replay_one(
                    letters, await letters.box.get(seq), wait_s=wait, data=data, keep=keep
                )
                for seq in seqs
            ]

        report(_run(tenant, nats_url, credentials, named))
        return

    async def act(letters: Letters, letter: DeadLetter) -> Replayed:
        # The whole original (a cut dead letter's, from the ingest stream), then replay.
        return await replay_one(letters, await letters.box.get(letter.seq), wait_s=wait, keep=keep)

    selection = Selection(tenant, reason, parse_since(since) if since else None)
    selected, _, done = _bulk("replay", selection, limit, dry_run, yes, nats_url, credentials, act)
    if dry_run:
        say(f"would replay {selected} dead letter(s) ({selection.describe()})")
        return
    say(f"replayed {len(done)} of {selected} dead letter(s)")
    report(done)


@app.command()
def purge(
    tenant: TenantFilter = None,
    reason: Reason = None,
    since: Since = None,
    limit: MaxPerRun = DEFAULT_MAX,
    dry_run: DryRun = False,
    yes: Yes = False,
    as_json: AsJson = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Delete the dead letters that match (counted first, confirmed, in chunks)."""
    selection = Selection(tenant, reason, parse_since(since) if since else None)

    async def act(letters: Letters, letter: DeadLetter) -> int:
        await letters.box.delete(letter.seq)
        return letter.seq

    selected, _, done = _bulk("purge", selection, limit, dry_run, yes, nats_url, credentials, act)
    if as_json:
        print_json({"selected": selected, "purged": len(done), "dryRun": dry_run}, compact=True)
    elif dry_run:
        say(f"would purge {selected} dead letter(s) ({selection.describe()})")
    else:
        say(f"purged {len(done)} of {selected} dead letter(s)")
