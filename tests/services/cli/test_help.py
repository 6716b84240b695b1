"""`one-bus ... --help` as a user reads it: click-style usage, no type hints on flags, and
an example for every command."""

import asyncio

import pytest

from services.cli.help import EXAMPLES, documented
from services.cli.main import app
from tests.services.cli.command import one_bus

COMMANDS = documented(app)


def test_every_command_has_an_example() -> None:
    assert set(COMMANDS) <= set(EXAMPLES), sorted(set(COMMANDS) - set(EXAMPLES))
    assert ("status",) in COMMANDS
    assert ("req",) in COMMANDS


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
            assert EXAMPLES[path][0].split()[1] in text, path


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
