"""Fixtures only the fault scenarios need: servers of their own, and the figures table.

Every scenario starts its own nats-server and SecantusDB in a temporary directory, so the
faults it injects (killed processes, stopped servers) never touch another test's servers.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import REPORTS


@pytest.fixture
async def own_servers(tmp_path: Path) -> AsyncIterator[EmbeddedServers]:
    """nats-server (JetStream on disk) and SecantusDB for one scenario, restartable."""
    async with EmbeddedServers(tmp_path / "servers") as servers:
        yield servers


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """The README's reliability table, as measured by this run."""
    if not REPORTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault scenarios")
    write("| scenario | published | in stream | stored | dead-lettered | lost | duplicated | s |")
    write("|---|---|---|---|---|---|---|---|")
    for r in REPORTS:
        write(
            f"| {r.name} | {r.published} | {r.in_stream} | {r.stored} | {r.dead_lettered} "
            f"| {r.lost} | {r.duplicated} | {r.seconds} |"
        )
