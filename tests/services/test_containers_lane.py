"""The Testcontainers lane (`ONE_TEST_CONTAINERS=1`): the same tests on the official
images where a Docker engine is reachable; where none is, they skip cleanly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.servers import docker_engine_reachable

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(docker_engine_reachable(), reason="an engine is here: the lane would run")
def test_without_an_engine_the_lane_skips_the_server_tests_and_fails_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/services/query/test_seed_patterns.py", "tests/contracts/test_subjects.py"],
        cwd=ROOT, env={**os.environ, "ONE_TEST_CONTAINERS": "1"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert "skipped" in summary, summary
    assert "passed" in summary, summary  # the tests needing no server still ran
    assert "failed" not in summary, summary
