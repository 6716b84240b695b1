"""`make bench` keeps working: a tiny run of the whole benchmark, start to finish.

The benchmark lives outside the test suite (its figures are ratios from a quiet machine,
never asserted); this only checks that every part of it still runs against the service
as it is now, and writes what the README's performance section is made from.
"""

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.workload import WORKLOADS

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_benchmark_runs_every_part_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "bench-out"
    argv = [sys.executable, "-m", "benchmarks", "--messages", "60", "--rounds", "1",
            "--processes", "1", "--requests", "5", "--rss-messages", "200",
            "--fair-flooders", "8", "--fair-creators", "200", "--fair-requests", "5",
            "--fair-watches", "10", "--fair-writes", "3",
            "--out", str(out)]  # fmt: skip
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((out / "bench.json").read_text())
    assert {row["workload"] for row in report["ingest"]} == set(WORKLOADS)
    for row in report["ingest"]:
        assert min(row["bus_per_s"], row["nats_per_s"], row["store_per_s"]) > 0
    assert {row["query"] for row in report["lookups"]} == {
        "entities.get", "entities.list", "events.list", "graph.traverse"
    }  # fmt: skip
    assert report["rss"]["messages"] == 200
    fair = report["query_tenancy"]
    assert (
        fair["queries"]["calm_get_unloaded"]["n"]
        + sum(fair["queries"]["calm_get_unloaded"]["errors"].values())
        == 5
    )
    assert sum(fair["queries"]["flood_outcomes"].values()) > 0
    assert fair["watches"]["flood_watches"] == 10
    assert (out / "bench.png").stat().st_size > 0
