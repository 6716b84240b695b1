"""`one-bus ... --help` as a user reads it: click-style usage, no type hints on flags, and
an example for every command."""

import asyncio

import pytest
import typer

from services.cli.help_text import EXAMPLES, documented
from services.cli.main import app
from tests.services.cli.command import one_bus

COMMANDS = documented(app)


def test_every_command_has_an_example() -> None:
    # From the table, or an epilog of the command's own.
    missing = [path for path in COMMANDS if path not in EXAMPLES and not epilog_of(app, path)]
    assert missing == []
    assert ("status",) in COMMANDS
    assert ("req",) in COMMANDS


def epilog_of(typer_app: typer.Typer, path: tuple[str, ...]) -> str | None:
    head, *rest = path
    if rest:
        [group] = [g for g in typer_app.registered_groups if g.name == head]
        assert group.typer_instance is not None
        return epilog_of(group.typer_instance, tuple(rest))
    for command in typer_app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        if name.replace("_", "-").strip("-") == head:
            return command.epilog
    return None


async def test_help_has_no_bool_hints_no_braces_and_its_examples() -> None:
    two_at_a_time = asyncio.Semaphore(2)

    async def help_of(path: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        async with two_at_a_time:
            ran = await one_bus(*path, "--help")
        assert ran.code == 0, ran
        return path, ran.out

    for path, text in await asyncio.gather(*(help_of(path) for path in [(), *COMMANDS])):
        assert "<bool>" not in text, path
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage
        if path:
            assert "Example" in text, path
            if path in EXAMPLES:
                assert EXAMPLES[path][0] in text.replace("\n ", " "), path


@pytest.mark.parametrize(
    ("path", "usage"),
    [
        (("publish",), "Usage: one-bus publish [OPTIONS] SUBJECT [PAYLOAD]"),
        (("dlq", "replay"), "Usage: one-bus dlq replay [OPTIONS] [SEQS]..."),
        (("req",), "Usage: one-bus req [OPTIONS] SUBJECT [BODY]"),
    ],
)
async def test_usage_names_arguments_in_capitals(path: tuple[str, ...], usage: str) -> None:
    ran = await one_bus(*path, "--help")
    assert usage in ran.out
