"""`one-bus tail WHAT`: a live, readable view of a tenant's changes, events or dead letters.

WHAT is `changes`, `changes.<collection>`, `changes.<collection>.<type>`, `events`,
`events.<type>`, `dlq` or `dlq.<kind>` (a leading `one.v1.<tenant>.` and trailing NATS
wildcards, as in `one.v1.acme.changes.>`, are accepted too).
Without `--since`/`--from-seq` it shows what happens from now on; with them it replays
from that point, then keeps following. Ctrl-C stops it.
"""

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.text import Text

from contracts.ontology import COLLECTIONS
from contracts.subjects import PREFIX
from one_bus.client import OneClient
from one_bus.delivered import ChangeMessage, DeadLetterMessage
from one_bus.subscription import Subscription
from services.cli.connect import Credentials, NatsUrl, Tenant, fail, run
from services.cli.output import print_json, say

out = Console(highlight=False, soft_wrap=True)
_DURATION: Final = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`90s`, `10m`, `2h`, `1d` ago; an ISO 8601 time (UTC unless it says); epoch ms."""
    text = value.strip()
    found = _DURATION.fullmatch(text)
    if found:
        ago = timedelta(**{_UNITS[found.group(2)]: float(found.group(1))})
        return (now or datetime.now(UTC)) - ago
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(
            f"{value!r}: give a duration (90s, 10m, 2h, 1d), an ISO time or epoch ms"
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tokens(what: str, tenant: str) -> list[str]:
    tokens = what.split(".")
    if ".".join(tokens[:2]) == PREFIX:
        if len(tokens) < 4:
            fail(f"{what!r}: expected one.v1.<tenant>.<changes|events|dlq>...", 2)
        if tokens[2] != tenant:
            fail(f"{what!r} names tenant {tokens[2]!r}, not --tenant {tenant!r}", 2)
        tokens = tokens[3:]
    return tokens


def open_subscription(
    client: OneClient, what: str, since: datetime | None, start_seq: int | None
) -> Subscription[ChangeMessage] | Subscription[DeadLetterMessage]:
    tokens = _tokens(what, client.tenant)
    # NATS wildcards at the end mean "any": `changes.>` is `changes`, `dlq.*` is `dlq`.
    while len(tokens) > 1 and tokens[-1] in ("*", ">"):
        tokens.pop()
    head, rest = tokens[0], tokens[1:]
    if head == "dlq" and len(rest) <= 1:
        return client.dead_letters(kind=rest[0] if rest else None, since=since, start_seq=start_seq)
    if head == "events" and len(rest) <= 1:
        return client.subscribe(
            "events", type=rest[0] if rest else None, since=since, start_seq=start_seq
        )
    if head == "changes" and len(rest) <= 2:
        collection = rest[0] if rest else None
        if collection is not None and collection not in COLLECTIONS:
            fail(f"{collection!r} is not a collection: {', '.join(COLLECTIONS)}", 2)
        return client.subscribe(
            "changes",
            collection=collection,  # type: ignore[arg-type]  # checked just above
            type=rest[1] if len(rest) > 1 else None,
            since=since,
            start_seq=start_seq,
        )
    fail(f"{what!r}: expected changes[.<collection>[.<type>]], events[.<type>] or dlq[.<kind>]", 2)


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S.%f")[:-3]


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_change(message: ChangeMessage) -> Text:
    change, record = message.change, message.change.record
    line = Text()
    line.append(_clock(message.position.time), style="dim")
    line.append(f" #{message.position.seq:<6} ", style="dim")
    kind = ".".join(message.subject.split(".")[4:])
    line.append(f"{kind:<32} ", style="cyan")
    line.append(f"{change.op:<7} ", style="bold")
    if change.collection == "entities":
        line.append(f"{record.get('id')} ", style="yellow")
        line.append(_short(record.get("name", "")))
        if record.get("status"):
            line.append(f"  [{record['status']}]", style="dim")
        if record.get("deletedAt"):
            line.append("  deleted", style="red")
    elif change.collection == "connections":
        line.append(f"{record.get('id')} ", style="yellow")
        line.append(f"{record.get('fromEntityId')} → {record.get('toEntityId')}")
    elif change.collection == "events":
        line.append(f"{record.get('id')} ", style="yellow")
        arrow = f" → {record['targetId']}" if record.get("targetId") else ""
        line.append(f"{record.get('actorId')}{arrow}  ")
        line.append(_short(record.get("metadata", {}), 50), style="dim")
    else:
        line.append(f"{record.get('entityId')} ", style="yellow")
        line.append(f"{record.get('key')}={_short(record.get('value', ''), 40)}")
    return line


def render_dead_letter(letter: DeadLetterMessage) -> Text:
    line = Text()
    line.append(_clock(letter.position.time), style="dim")
    line.append(f" #{letter.position.seq:<6} ", style="dim")
    line.append(f"{letter.reason:<17} ", style="bold red")
    line.append(f"{letter.original_subject} ", style="cyan")
    line.append(_short(letter.error, 80))
    line.append("  " + _short(letter.data.decode("utf-8", errors="replace"), 40), style="dim")
    return line


def as_json(message: ChangeMessage | DeadLetterMessage) -> dict[str, Any]:
    where = {
        "seq": message.position.seq,
        "time": message.position.time.isoformat(),
        "subject": message.subject,
    }
    if isinstance(message, ChangeMessage):
        return {**where, **message.change.model_dump(mode="json")}
    return {
        **where,
        "reason": message.reason,
        "error": message.error,
        "originalSubject": message.original_subject,
        "originalSeq": message.original_seq,
        "headers": message.original_headers,
        "payload": message.data.decode("utf-8", errors="replace"),
    }


def tail(
    what: Annotated[str, typer.Argument(help="changes[.<collection>[.<type>]], events, dlq...")],
    tenant: Tenant = "",
    since: Annotated[
        str | None,
        typer.Option(help="Replay from a time: 10m, 2h (ago), an ISO time or epoch ms."),
    ] = None,
    from_seq: Annotated[
        int | None, typer.Option(min=1, help="Replay from this stream sequence.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Follow changes, events or dead letters as they happen (or from --since)."""
    if since is not None and from_seq is not None:
        fail("give --since or --from-seq, not both", 2)
    start = parse_since(since) if since is not None else None

    async def work(client: OneClient) -> int:
        shown = 0
        subscription = open_subscription(client, what, start, from_seq)
        async with subscription:
            # Said once it is following (a refusal comes first): the screen is not blank.
            when = (
                f"since {start.isoformat()}"
                if start
                else (f"from sequence {from_seq}" if from_seq else "from now on")
            )
            say(f"following {subscription.subject} {when}; Ctrl-C stops")
            async for message in subscription:
                if json_lines:
                    print_json(as_json(message), compact=True)
                elif isinstance(message, ChangeMessage):
                    out.print(render_change(message), soft_wrap=True)
                else:
                    out.print(render_dead_letter(message), soft_wrap=True)
                shown += 1
                if limit is not None and shown >= limit:
                    break
        return shown

    # Ctrl-C is how a live tail ends: not an error.
    with contextlib.suppress(KeyboardInterrupt):
        run(tenant, nats_url, credentials, work, reconnect=True)
