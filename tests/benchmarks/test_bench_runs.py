"""`make bench` keeps working: a tiny run of the whole benchmark, start to finish.

The benchmark lives outside the test suite (its figures are ratios from a quiet machine,
never asserted); this only checks that every part of it still runs against the service
as it is now, and writes what the README's performance section is made from.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.workload import WORKLOADS

ROOT = Path(__file__).resolve().parents[2]


RUN_TIMEOUT_S = 600


def run_benchmark(argv: list[str], log: Path) -> subprocess.CompletedProcess[str]:
    """The benchmark in a session of its own, its output in a file: whatever happens, no
    process it started outlives the test (an orphan holding a pipe would hang the reader),
    and a failure shows where the run was."""
    with log.open("w") as output:
        process = subprocess.Popen(
            argv, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            returncode = -1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(argv, returncode, log.read_text(), "")


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_a_small_benchmark_runs_every_part_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "bench-out"
    argv = [sys.executable, "-m", "benchmarks", "--messages", "60", "--rounds", "1",
            "--processes", "1", "--requests", "5", "--rss-messages", "200",
            "--outcome-messages", "64", "--tenancy-backlog", "300",
            "--cpu-messages", "60", "--cpu-rounds", "1", "--cpu-processes", "1",
            "--cpu-requests", "5",
            "--fair-flooders", "8", "--fair-creators", "200", "--fair-requests", "5",
            "--fair-watches", "10", "--fair-writes", "3",
            "--out", str(out)]  # fmt: skip
    run = run_benchmark(argv, tmp_path / "bench.log")

    assert run.returncode == 0, run.stdout[-6000:]
    report = json.loads((out / "bench.json").read_text())
    assert {row["workload"] for row in report["ingest"]} == set(WORKLOADS)
    for row in report["ingest"]:
        assert min(row["bus_per_s"], row["nats_per_s"], row["store_per_s"]) > 0
    assert {row["query"] for row in report["lookups"]} == {
        "entities.get", "entities.list", "events.list", "graph.traverse"
    }  # fmt: skip
    assert report["rss"]["messages"] == 200
    outcomes = report["outcomes"]
    # Every message that asked was answered, and every latency row has its samples.
    assert {t["answered"] for t in outcomes["throughput"] if t["outcomes"]} == {64}
    assert {(row["what"], row["publishers"]) for row in outcomes["latency"]} == {
        (what, publishers)
        for what in ("publish → change (no outcome)", "publish → outcome")
        for publishers in (1, 64)
    }
    assert all(row["samples"] > 0 for row in outcomes["latency"] + outcomes["queries"])
    cpu = report["cpu"]
    assert {(row["workload"], row["processes"]) for row in cpu["ingest"]} == {
        (workload, 1) for workload in WORKLOADS
    }
    for row in cpu["ingest"]:
        # Both clients measured in the round, each with CPU spent on the messages.
        assert row["rounds"] == 1
        assert row["bus_us_per_message"] > 0
        assert row["plain_us_per_message"] > 0
        # ... and the plain client that also republishes, the floor of a bus.
        assert row["republish_us_per_message"] > 0
        assert row["ratio_to_republish"] > 0
        assert row["query_us_per_message"] is not None
        assert row["bus_store_us_per_message"] is not None
    assert {row["query"] for row in cpu["lookups"]} == {"entities.get", "entities.list"}
    for row in cpu["lookups"]:
        assert row["bus_us_per_request"] > 0
        assert row["plain_us_per_request"] > 0
    fair = report["query_tenancy"]
    assert (
        fair["queries"]["calm_get_unloaded"]["n"]
        + sum(fair["queries"]["calm_get_unloaded"]["errors"].values())
        == 5
    )
    assert sum(fair["queries"]["flood_outcomes"].values()) > 0
    assert fair["watches"]["flood_watches"] == 10
    tenancy = report["tenancy"]["ingest"]
    # The backlog drained, with the other tenants writing and alone (300 drain too fast
    # for their writes to be timed: a real run's backlog is 100,000).
    assert tenancy["backlog"] == 300
    assert min(tenancy["drain_shared_per_s"], tenancy["drain_alone_per_s"]) > 0
    assert (out / "bench.png").stat().st_size > 0
