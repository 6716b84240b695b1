"""How `one-bus ... --help` reads: click-style usage (`SUBJECT [PAYLOAD]`, not Typer's
`{subject}`), no `<bool>` type hints on flags, and an example for every command.

`apply(app)` gives every command and group of the CLI (sub-apps included) these classes
and its example from `EXAMPLES`, the one table of them.
"""

from typing import Any, Final

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# Each command's examples, by its path under `one-bus`; shown after its options.
EXAMPLES: Final[dict[tuple[str, ...], tuple[str, ...]]] = {
    ("publish",): (
        'one-bus publish entities.creator.upsert \'{"id":"ada","type":"creator",'
        '"name":"Ada","updatedAt":1763900000000,"actorId":"admin"}\' -t acme',
        'echo \'{"entityId":"ada","key":"topic","value":"computing"}\' '
        "| one-bus publish tags.set -t acme",
    ),
    ("query",): (
        'one-bus query entities.get \'{"id":"ada"}\' -t acme',
        "one-bus query events.list '{\"limit\":100}' -t acme --all --timeout 30",
    ),
    ("watch",): (
        'one-bus watch entities.get \'{"id":"ada"}\' -t acme',
        'one-bus watch events.list \'{"type":"payment_event"}\' -t acme --json --limit 10',
    ),
    ("tail",): (
        "one-bus tail changes -t acme",
        "one-bus tail changes.entities.creator -t acme --since 1h --json",
        "one-bus tail dlq -t acme --since 1d",
    ),
    ("import",): ("one-bus import data.jsonl -t acme",),
    ("status",): ("one-bus status", "one-bus status --json"),
    ("console",): (
        "one-bus console -t acme",
        "one-bus console --credentials acme.org_owner.json --host 0.0.0.0 --port 8085",
    ),
    ("req",): (
        "one-bus req '$SRV.INFO'",
        'one-bus req one.v1.acme.query.entities.get \'{"id":"ada"}\' -H',
    ),
    ("serve",): ("ONE_NATS_URL=nats://nats:4222 ONE_MONGODB_URI=mongodb://mongo one-bus serve",),
    ("dev",): ("one-bus dev", "one-bus dev --secure --data-dir /tmp/one --nats-port 14222"),
    ("schema", "export"): ("one-bus schema export schemas/",),
    ("dlq", "list"): (
        "one-bus dlq list -t acme --reason invalid_payload",
        "one-bus dlq list -t acme --limit 20 --after 1200",
    ),
    ("dlq", "show"): ("one-bus dlq show 42",),
    ("dlq", "replay"): (
        "one-bus dlq replay 42 --payload fixed.json",
        "one-bus dlq replay --reason store_rejected --since 2h --dry-run",
    ),
    ("dlq", "purge"): ("one-bus dlq purge -t acme --reason malformed_json --yes",),
    ("security", "init"): (
        "one-bus security init --nats-url tls://nats.example:4222 --host nats --data-dir deploy/",
    ),
    ("tenant", "add"): (
        "one-bus tenant add acme --out creds/ --max-backlog-msgs 100000",
        "one-bus tenant add acme --role customer --data-dir .one-data",
    ),
    ("tenant", "set"): ("one-bus tenant set acme --max-concurrent-queries 16 --max-watches 500",),
    ("tenant", "list"): ("one-bus tenant list --json",),
    ("tenant", "stats"): ("one-bus tenant stats acme", "one-bus tenant stats --json"),
    ("tenant", "remove"): (
        "one-bus tenant remove acme",
        "one-bus tenant remove acme --purge --yes",
    ),
}


def _unhinted(params: list[Any]) -> list[Any]:
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag:
            # A flag takes no value: its type (`<bool>`) says nothing.
            param.metavar = ""
    return params


class OneBusCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _unhinted(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = (param.metavar or param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces


class OneBusGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _unhinted(super().get_params(ctx))


def _epilog(path: tuple[str, ...]) -> str | None:
    examples = EXAMPLES.get(path)
    if not examples:
        return None
    # Paragraphs: Rich help keeps each on its own line.
    return "\n\n".join(("Examples:" if len(examples) > 1 else "Example:", *examples))


def apply(app: typer.Typer, path: tuple[str, ...] = ()) -> None:
    # Typer's own classes (or its placeholder for them) only: a custom class stays.
    if not isinstance(app.info.cls, type) or app.info.cls is TyperGroup:
        app.info.cls = OneBusGroup
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        if not isinstance(command.cls, type) or command.cls is TyperCommand:
            command.cls = OneBusCommand
        command.epilog = command.epilog or _epilog((*path, name.replace("_", "-").strip("-")))
    for group in app.registered_groups:
        if group.typer_instance is not None:
            apply(group.typer_instance, (*path, group.name or ""))


def documented(app: typer.Typer, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of `app` (for the test that each has an example)."""
    found: list[tuple[str, ...]] = []
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        found.append((*path, name.replace("_", "-").strip("-")))
    for group in app.registered_groups:
        if group.typer_instance is not None:
            found += documented(group.typer_instance, (*path, group.name or ""))
    return found
