"""`one-bus dlq list | show | replay`: inspect dead letters and republish fixed ones."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import nats
import typer
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.table import Table

from contracts.outcomes import Rejected, Stored
from one_bus.connection import nats_options
from one_bus.outcomes import OutcomeInbox
from services.cli.connect import CliError, Credentials, NatsUrl, connection_spec
from services.ingest.dead_letter_box import DeadLetter, DeadLetterBox
from services.settings import Settings

app = typer.Typer(help="Inspect and replay dead letters (rejected input).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _run(
    nats_url: str | None,
    credentials: Path | None,
    work: Callable[[DeadLetterBox, JetStreamContext], Awaitable[T]],
) -> T:
    settings = Settings()

    async def main() -> T:
        spec = connection_spec(nats_url, credentials)
        try:
            # Bounded: nats-py keeps retrying a refused first connect, and an operator
            # wants an answer, not a hang.
            client = await asyncio.wait_for(
                nats.connect(
                    **nats_options(spec),
                    connect_timeout=5,
                    allow_reconnect=False,
                    # nats-py tries a server forever when this is 0; 1 gives up soon.
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.5,
                    error_cb=_quiet,
                ),
                timeout=10,
            )
        except (OSError, TimeoutError, NatsError) as error:
            raise CliError(f"cannot reach NATS at {', '.join(spec.servers)}: {error!r}") from error
        try:
            js = client.jetstream(timeout=settings.publish_ack_timeout_s)
            box = DeadLetterBox(js, settings.dlq_stream, settings.ingest_stream)
            return await work(box, js)
        except NotFoundError as error:
            raise CliError(f"no such dead letter (or no {settings.dlq_stream} stream)") from error
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except CliError as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(error.exit_code) from error


async def _quiet(_: Exception) -> None:
    """nats-py logs each failed connect with a traceback; the CLI reports it once, plainly."""


def _preview(data: bytes, width: int = 60) -> str:
    text = data.decode("utf-8", errors="replace").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's dead letters.")] = None,
    reason: Annotated[
        str | None, typer.Option(help="Only this reason, e.g. invalid_payload.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """List dead letters, oldest first."""

    async def work(box: DeadLetterBox, _: JetStreamContext) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        async for letter in box.scan(tenant=tenant, reason=reason):
            letters.append(letter)
            if len(letters) >= limit:
                break
        return letters

    letters = _run(nats_url, credentials, work)
    if as_json:
        for letter in letters:
            out.print_json(json.dumps(_summary(letter)), indent=None)
        return
    table = Table("seq", "time", "subject", "reason", "error", "payload")
    for letter in letters:
        table.add_row(
            str(letter.seq),
            letter.time.isoformat(timespec="seconds") if letter.time else "",
            letter.original_subject,
            letter.reason,
            letter.error[:80],
            _preview(letter.data),
        )
    out.print(table)
    out.print(f"{len(letters)} dead letter(s)")


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


@app.command()
def show(
    seq: Annotated[int, typer.Argument(help="The dead letter's sequence.")],
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Show one dead letter: reason, headers and the original payload."""

    async def work(box: DeadLetterBox, _: JetStreamContext) -> DeadLetter:
        return await box.get(seq)

    out.print_json(json.dumps(_summary(_run(nats_url, credentials, work))))


@app.command()
def replay(
    seqs: Annotated[list[int], typer.Argument(help="Sequences of the dead letters to replay.")],
    payload: Annotated[
        Path | None, typer.Option(help="A fixed body to publish instead (one sequence only).")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the dead letter after replaying it.")] = False,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for each replay's outcome.")
    ] = 10.0,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Republish dead letters to the subjects they came from, optionally with a fixed body,
    and say what became of each: stored, or rejected again (exit 3; 4: no outcome in time)."""
    if payload is not None and len(seqs) != 1:
        raise typer.BadParameter("--payload replaces one message's body: give one sequence")
    data = payload.read_bytes() if payload is not None else None

    async def work(
        box: DeadLetterBox, js: JetStreamContext
    ) -> list[tuple[int, str, int, Stored | Rejected | None]]:
        # Each replay asks for its outcome: stored, or dead-lettered again (and why). The
        # JetStream context's own connection (nats-py keeps no public handle on it).
        inbox = OutcomeInbox(js._nc)
        done: list[tuple[int, str, int, Stored | Rejected | None]] = []
        for seq in seqs:
            letter = await box.get(seq)
            target, answer = await inbox.expect()
            new_seq = await box.replay(letter, data=data, keep=keep, outcome_to=target)
            try:
                outcome: Stored | Rejected | None = await asyncio.wait_for(answer, wait)
            except TimeoutError:
                outcome = None
            finally:
                inbox.forget(target)
            done.append((seq, letter.original_subject, new_seq, outcome))
        return done

    rejected = unanswered = False
    for seq, subject, new_seq, outcome in _run(nats_url, credentials, work):
        replayed = f"replayed dead letter {seq} to {subject} (ingest seq {new_seq})"
        if isinstance(outcome, Stored):
            what = ", ".join(f"{r.collection} {r.id} {r.effect}" for r in outcome.records)
            out.print(f"{replayed}: [green]stored[/]: {what or 'no record'}", highlight=False)
        elif isinstance(outcome, Rejected):
            rejected = True
            out.print(
                f"{replayed}: [red]rejected again: {outcome.code}[/]: {outcome.message}",
                highlight=False,
            )
        else:
            unanswered = True
            out.print(f"{replayed}: no outcome within {wait:g} s", highlight=False)
    if rejected:
        raise typer.Exit(3)
    if unanswered:
        raise typer.Exit(4)
