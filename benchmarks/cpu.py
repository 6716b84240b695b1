"""CPU per message and per lookup: ONE Bus's processes against plain clients, same run.

Process CPU time (user + system, psutil), not wall time: on a busy machine it is far less
noisy, and it is what decides how many processes a faster store needs.

- Ingest, for each workload with one process, and for events with each count of
  `--cpu-processes` (the scale-out): the processes start and report ready, then the
  workload is published and drained. ONE Bus: ingest processes, and beside them a query
  process with no watches and no requests (what ingest costs it; without watches it
  receives no changes); plain: `plain-ingest` processes (fetch a batch, parse,
  `insert_many`, ack each) on a consumer of the same stream; and with one process,
  `plain-republish` (the same, each record also published to JetStream and its
  acknowledgement awaited before the acks: the floor for a bus that republishes what it
  stored, which the plain client does not do). CPU per message of each,
  records per second (first publish to drained), and the servers' own CPU (embedded
  servers only) per message.
- Lookups, over the data ONE Bus stored for the mix: `entities.get` and `entities.list`
  against the query process and against `plain-lookup` (receive, `find_one` or the same
  aggregation, reply), alternating; CPU of the responding process per request.

Rounds alternate which client goes first; medians are reported, ratios as the median of
each round's own. `--cpu-profile DIR` also records the first round's ingest and query
processes with py-spy (raw collapsed stacks) and prints where their time went.
"""

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import nats
import psutil
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from pymongo import AsyncMongoClient
from rich.console import Console
from rich.table import Table

from benchmarks.ingest import drained, service_env
from benchmarks.processes import ServiceProcess, service_processes
from benchmarks.servers import Servers, servers
from benchmarks.service_process import PLAIN_CONSUMER, PLAIN_LOOKUP_SUBJECT, PLAIN_TENANT
from benchmarks.streams import fresh_streams, publish_all
from benchmarks.workload import WORKLOADS
from contracts.subjects import query_subject
from services.settings import Settings

Client = Literal["bus", "plain", "republish"]
PLAIN_ROLES: Final[Mapping[Client, str]] = {"plain": "plain-ingest", "republish": "plain-republish"}
SCALE_WORKLOAD: Final = "events"
LOOKUPS: Final = ("entities.get", "entities.list")
_WARM_UP: Final = 20
console = Console(width=150)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of one process and its children so far.

    From the scheduler's nanosecond run time of each thread (/proc/<pid>/task/*/schedstat)
    where there is one: user and system times come in clock ticks (10 ms), too coarse for
    a few thousand messages at tens of microseconds each. Threads that have exited are
    not counted there; the service's threads live as long as it does.
    """
    processes = [psutil.Process(pid)]
    with contextlib.suppress(psutil.NoSuchProcess):
        processes += processes[0].children(recursive=True)
    return sum(_process_cpu(process) for process in processes)


def _process_cpu(process: psutil.Process) -> float:
    try:
        tasks = Path(f"/proc/{process.pid}/task")
        if tasks.is_dir():
            total = 0
            for task in tasks.iterdir():
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    total += int((task / "schedstat").read_text().split()[0])
            return total / 1e9
        return float(sum(process.cpu_times()[:2]))
    except psutil.NoSuchProcess:
        return 0.0


def _snapshot(pids: Mapping[str, Sequence[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()}


def _spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


@dataclass(frozen=True, slots=True)
class IngestCpu:
    workload: str
    processes: int
    round: int
    client: Client
    messages: int
    seconds: float
    # CPU seconds by process group: "ingest" (all of them), "query" (ONE Bus only),
    # "nats-server", "store" (embedded servers only).
    cpu: dict[str, float]

    def per_message_us(self, group: str) -> float | None:
        spent = self.cpu.get(group)
        return None if spent is None else spent / self.messages * 1e6


@dataclass(frozen=True, slots=True)
class LookupCpu:
    query: str
    round: int
    client: Client
    requests: int
    cpu: dict[str, float]

    def per_request_us(self, group: str = "responder") -> float:
        return self.cpu[group] / self.requests * 1e6


@dataclass(slots=True)
class CpuRun:
    ingest: list[IngestCpu] = field(default_factory=list)
    lookups: list[LookupCpu] = field(default_factory=list)
    # Profile file → share of samples by part of the work (with --cpu-profile).
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)


def _settings(servers: Servers, database: str) -> Settings:
    return Settings(
        nats_url=servers.nats_url,
        mongodb_uri=servers.mongodb_uri,
        mongodb_db=database,
    )


async def _drained(js: JetStreamContext, stream: str, consumer: str, count: int) -> None:
    while True:
        info = await js.consumer_info(stream, consumer)
        if (
            info.num_pending == 0
            and info.num_ack_pending == 0
            and (info.ack_floor.stream_seq or 0) >= count
        ):
            return
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _profiled(
    targets: Mapping[str, Sequence[ServiceProcess]], directory: Path | None
) -> AsyncIterator[list[Path]]:
    """py-spy recording each target while the block runs (nothing if no `directory`)."""
    recorders: list[tuple[asyncio.subprocess.Process, Path]] = []
    if directory is not None:
        py_spy = _py_spy()
        directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (before the clock)
        for name, group in targets.items():
            for n, service in enumerate(group):
                out = directory / f"{name}-{n}.txt"
                recorder = await asyncio.create_subprocess_exec(
                    py_spy,
                    "record", "--nonblocking", "--format", "raw", "--rate", "1000",
                    "--pid", str(service.pid), "--output", str(out),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )  # fmt: skip
                recorders.append((recorder, out))
        # py-spy attaches in well under this; samples before it would be lost, not wrong.
        await asyncio.sleep(1)
    try:
        yield [out for _, out in recorders]
    finally:
        for recorder, _ in recorders:
            with contextlib.suppress(ProcessLookupError):  # py-spy gave up on its own
                recorder.send_signal(signal.SIGINT)
        for recorder, _ in recorders:
            await asyncio.wait_for(recorder.wait(), 60)


def _py_spy() -> str:
    """py-spy beside this interpreter (the `bench` extra installs it), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--cpu-profile needs py-spy: pip install 'one-bus[bench]'")
    return found


async def ingest_round(
    servers: Servers,
    workload: str,
    processes: int,
    round_: int,
    count: int,
    client: Client,
    profile: Path | None = None,
) -> tuple[IngestCpu, list[Path]]:
    tag = f"{workload.replace(' ', '_')}_{processes}_{round_}_{client}"
    settings = _settings(servers, f"cpu_{tag}")
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await fresh_streams(js, settings)
    # The plain client's single consumer; ONE Bus takes the stream through its lanes.
    consumer = PLAIN_CONSUMER
    if client != "bus":
        config = ConsumerConfig(
            durable_name=consumer,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=settings.ack_wait_s,
            max_ack_pending=settings.max_ack_pending,
        )
        await js.add_consumer(settings.ingest_stream, config)
    env = service_env(settings)
    async with contextlib.AsyncExitStack() as stack:
        groups: dict[str, list[ServiceProcess]] = {}
        if client == "bus":
            groups["query"] = await stack.enter_async_context(service_processes("query", 1, env))
            role = "ingest"
        else:
            role = PLAIN_ROLES[client]
        groups["ingest"] = await stack.enter_async_context(service_processes(role, processes, env))
        pids = {name: [p.pid for p in group] for name, group in groups.items()}
        pids.update({name: [pid] for name, pid in servers.pids.items()})
        async with _profiled(groups, profile) as profiles:
            before = _snapshot(pids)
            started = time.perf_counter()
            await publish_all(js, WORKLOADS[workload](PLAIN_TENANT, count))
            done = (
                _drained(js, settings.ingest_stream, consumer, count)
                if client != "bus"
                else drained(nc, settings, count)
            )
            await asyncio.wait_for(done, 600)
            seconds = time.perf_counter() - started
            spent = _spent(before, _snapshot(pids))
    await nc.close()
    if not (workload == "mix" and client == "bus" and processes == 1):
        await _drop(settings)
    return IngestCpu(workload, processes, round_, client, count, seconds, spent), profiles


async def _drop(settings: Settings) -> None:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    await mongo.drop_database(settings.mongodb_db)
    await mongo.close()


async def lookup_rounds(
    servers: Servers, database: str, requests: int, rounds: int
) -> list[LookupCpu]:
    """CPU per request of the query process and of the plain responder, over `database`
    (the mix as ONE Bus stored it). One requester, each `entities.get` for another
    entity: the query service reads the ids of concurrent lookups together, a saving one
    requester never gets, so this is the cost of a lookup on its own."""
    settings = _settings(servers, database)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    live = mongo[database]["entities"].find({"deletedAt": None}, {"id": 1, "type": 1})
    stored = await live.to_list()
    await mongo.close()
    if not stored:
        raise RuntimeError(f"no entity in {database}")
    gets = [json.dumps({"id": document["id"]}).encode() for document in stored]
    page = json.dumps({"type": stored[0]["type"], "limit": 20}).encode()
    bodies: dict[str, Callable[[int], bytes]] = {
        "entities.get": lambda n: gets[n % len(gets)],
        "entities.list": lambda _: page,
    }
    subjects: dict[Client, Callable[[str], str]] = {
        "bus": lambda query: query_subject(PLAIN_TENANT, query),
        "plain": lambda query: f"{PLAIN_LOOKUP_SUBJECT}.{query.split('.')[1]}",
    }
    env = service_env(settings)
    nc = await nats.connect(settings.nats_url)

    async def requests_to(subject: str, body: Callable[[int], bytes], count: int) -> None:
        for n in range(count):
            reply = await nc.request(subject, body(n), timeout=30)
            if not reply.data.startswith(b'{"ok":true'):
                raise RuntimeError(f"{subject}: {reply.data[:200]!r}")

    results: list[LookupCpu] = []
    async with (
        service_processes("query", 1, env) as query,
        service_processes("plain-lookup", 1, env) as plain,
    ):
        responders: dict[Client, int] = {"bus": query[0].pid, "plain": plain[0].pid}
        for round_ in range(rounds):
            for query_name in LOOKUPS:
                order: list[Client] = ["bus", "plain"] if round_ % 2 == 0 else ["plain", "bus"]
                for client in order:
                    subject = subjects[client](query_name)
                    await requests_to(subject, bodies[query_name], _WARM_UP)
                    pids = {"responder": [responders[client]]}
                    pids.update({name: [pid] for name, pid in servers.pids.items()})
                    before = _snapshot(pids)
                    await requests_to(subject, bodies[query_name], requests)
                    spent = _spent(before, _snapshot(pids))
                    results.append(LookupCpu(query_name, round_, client, requests, spent))
    await nc.close()
    return results


def plan(workloads: Iterable[str], processes: Iterable[int]) -> list[tuple[str, int]]:
    """(workload, processes): every workload with one process, the scale-out on events."""
    runs = [(workload, 1) for workload in workloads]
    runs += [(SCALE_WORKLOAD, n) for n in processes if n != 1]
    return runs


async def run(
    running: Servers,
    workloads: Sequence[str],
    processes: Sequence[int],
    count: int,
    rounds: int,
    requests: int,
    profile: Path | None = None,
) -> CpuRun:
    result = CpuRun()
    lookup_db: str | None = None
    for round_ in range(rounds):
        for workload, n in plan(workloads, processes):
            # The republishing floor with one process only: it is a reference, not a scale.
            clients: list[Client] = ["bus", "plain", "republish"] if n == 1 else ["bus", "plain"]
            for client in clients if round_ % 2 == 0 else reversed(clients):
                where = (
                    profile / f"{workload.replace(' ', '_')}-{client}"
                    if profile and round_ == 0
                    else None
                )
                measured, files = await ingest_round(
                    running, workload, n, round_, count, client, where if n == 1 else None
                )
                result.ingest.append(measured)
                result.profiles.update({str(f): profile_shares(f) for f in files if f.exists()})
                if workload == "mix" and client == "bus" and n == 1:
                    if lookup_db is not None:
                        await _drop(_settings(running, lookup_db))
                    lookup_db = f"cpu_mix_1_{round_}_bus"
                console.print(
                    f"  cpu round {round_} {workload} x{n} {client}: "
                    f"{measured.per_message_us('ingest') or 0:.0f} µs/msg, "
                    f"{count / measured.seconds:.0f}/s"
                )
    if requests and lookup_db is not None:
        result.lookups = await lookup_rounds(running, lookup_db, requests, max(2, rounds))
    if lookup_db is not None:
        await _drop(_settings(running, lookup_db))
    return result


# Where py-spy's samples went. A sample belongs to the innermost frame of its stack that
# names a part of ONE Bus's work (so PyMongo under the writer is the writer's, pydantic
# under decoding is decoding's); a stack with none goes by the libraries in it. Frames
# read "function (file:line)"; the first rule whose text a frame holds names its part.
PROFILE_PARTS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("following changes (watch)", ("services/watch/",)),
    ("tracing", ("services/tracing.py",)),
    ("metrics", ("services/ingest/metrics.py", "prometheus_client/")),
    ("dead letters", ("services/ingest/dead_letter",)),
    ("acks", ("Msg.ack (", "Msg.nak (", "Msg.term (")),
    ("change encoding and publishing", ("services/ingest/change_feed.py",
                                        "services/store/stored_change.py")),
    ("document building", ("services/store/documents.py", "services/store/command_writes.py",
                           "services/store/entity_fold.py", "services/store/keys.py")),
    ("store writer (with PyMongo, BSON)", ("services/store/",)),
    ("decode and validation (with pydantic)", (
        "services/ingest/decode.py", "services/ingest/protocol_decode.py",
        "services/ingest/jetstream_message.py", "services/ingest/input_limits.py",
    )),
    ("fetch (nats-py pull)", ("PullConsumer._fetch (", "fetch (nats/js/")),
    ("batch handling, own code", ("services/ingest/",)),
    ("query responder (with PyMongo)", ("services/query/",)),
)  # fmt: skip
LIBRARY_PARTS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("NATS client I/O (read loop, flusher)", ("nats/",)),
    ("PyMongo, BSON (no ONE Bus frame)", ("pymongo/", "bson/")),
)


def profile_shares(path: Path) -> dict[str, float]:
    """Share of py-spy's samples in `path` (raw collapsed stacks) by part of the work
    (py-spy leaves out the samples of a thread that is not on a CPU: idle waits)."""
    parts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts[_part(stack)] += int(count)
    total = sum(parts.values())
    return {part: n / total for part, n in parts.most_common()} if total else {}


def _part(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for part, needles in PROFILE_PARTS:
            if any(needle in frame for needle in needles):
                return part
    for part, needles in LIBRARY_PARTS:
        if any(needle in stack for needle in needles):
            return part
    return "event loop, other"


def ingest_summary(rounds: Sequence[IngestCpu]) -> list[dict[str, Any]]:
    """Medians per (workload, processes) of both clients, ratios per round."""
    groups: dict[tuple[str, int], list[IngestCpu]] = {}
    for r in rounds:
        groups.setdefault((r.workload, r.processes), []).append(r)
    rows = []
    for (workload, processes), runs in groups.items():
        by_round: dict[int, dict[str, IngestCpu]] = {}
        for r in runs:
            by_round.setdefault(r.round, {})[r.client] = r
        pairs = [(p["bus"], p["plain"]) for p in by_round.values() if {"bus", "plain"} <= p.keys()]
        bus = [b for b, _ in pairs]
        plain = [p for _, p in pairs]

        def median(values: Iterable[float | None]) -> float | None:
            present = [v for v in values if v is not None]
            return statistics.median(present) if present else None

        row: dict[str, Any] = {
            "workload": workload,
            "processes": processes,
            "rounds": len(pairs),
            "bus_per_s": median(r.messages / r.seconds for r in bus),
            "plain_per_s": median(r.messages / r.seconds for r in plain),
            "bus_us_per_message": median(r.per_message_us("ingest") for r in bus),
            "plain_us_per_message": median(r.per_message_us("ingest") for r in plain),
            "ratio": median(
                (b.per_message_us("ingest") or 0) / (p.per_message_us("ingest") or 1)
                for b, p in pairs
            ),
            "ratios": [
                round((b.per_message_us("ingest") or 0) / (p.per_message_us("ingest") or 1), 2)
                for b, p in pairs
            ],
            # The floor of a bus that republishes what it stored (one process only).
            "republish_us_per_message": median(
                p["republish"].per_message_us("ingest")
                for p in by_round.values()
                if "republish" in p
            ),
            "ratio_to_republish": median(
                (p["bus"].per_message_us("ingest") or 0)
                / (p["republish"].per_message_us("ingest") or 1)
                for p in by_round.values()
                if {"bus", "republish"} <= p.keys()
            ),
            "query_us_per_message": median(r.per_message_us("query") for r in bus),
            # CPU seconds per second of the drain: the share of one core the replica gives
            # to following changes while ingest runs flat out.
            "query_core_share": median(r.cpu.get("query", 0) / r.seconds for r in bus),
        }
        for server in ("nats-server", "store"):
            row[f"bus_{server}_us_per_message"] = median(r.per_message_us(server) for r in bus)
            row[f"plain_{server}_us_per_message"] = median(r.per_message_us(server) for r in plain)
        rows.append(row)
    return rows


def lookup_summary(results: Sequence[LookupCpu]) -> list[dict[str, Any]]:
    rows = []
    for query in dict.fromkeys(r.query for r in results):
        by_round: dict[int, dict[str, LookupCpu]] = {}
        for r in results:
            if r.query == query:
                by_round.setdefault(r.round, {})[r.client] = r
        pairs = [(p["bus"], p["plain"]) for p in by_round.values() if len(p) == 2]
        rows.append(
            {
                "query": query,
                "rounds": len(pairs),
                "bus_us_per_request": statistics.median(b.per_request_us() for b, _ in pairs),
                "plain_us_per_request": statistics.median(p.per_request_us() for _, p in pairs),
                "ratio": statistics.median(
                    b.per_request_us() / p.per_request_us() for b, p in pairs
                ),
                "ratios": [round(b.per_request_us() / p.per_request_us(), 2) for b, p in pairs],
                "bus_store_us_per_request": statistics.median(
                    b.per_request_us("store") for b, _ in pairs if "store" in b.cpu
                )
                if all("store" in b.cpu for b, _ in pairs)
                else None,
            }
        )
    return rows


def summary(result: CpuRun) -> dict[str, Any]:
    """What bench.json holds under "cpu"."""
    return {
        "ingest": ingest_summary(result.ingest),
        "ingest_rounds": [asdict(r) for r in result.ingest],
        "lookups": lookup_summary(result.lookups),
        "lookup_rounds": [asdict(r) for r in result.lookups],
        "profiles": result.profiles,
    }


def _us(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def print_tables(document: Mapping[str, Any]) -> None:
    table = Table(title="Ingest CPU per message (µs, process CPU time, medians), same run")
    for column in (
        "workload", "proc", "ONE Bus /s", "plain /s", "ONE Bus µs", "plain µs", "ratio",
        "per round", "plain + republish µs", "ratio to it", "query replica µs",
        "its core share", "nats µs (bus/plain)",
        "store µs (bus/plain)",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "workload" else "right")
    for row in document["ingest"]:
        table.add_row(
            row["workload"],
            str(row["processes"]),
            _us(row["bus_per_s"]),
            _us(row["plain_per_s"]),
            _us(row["bus_us_per_message"]),
            _us(row["plain_us_per_message"]),
            f"{row['ratio']:.2f}" if row["ratio"] is not None else "",
            " ".join(f"{r:.2f}" for r in row["ratios"]),
            _us(row["republish_us_per_message"]),
            f"{row['ratio_to_republish']:.2f}" if row["ratio_to_republish"] is not None else "",
            _us(row["query_us_per_message"]),
            f"{row['query_core_share']:.1%}" if row["query_core_share"] is not None else "",
            f"{_us(row['bus_nats-server_us_per_message'])}/"
            f"{_us(row['plain_nats-server_us_per_message'])}",
            f"{_us(row['bus_store_us_per_message'])}/{_us(row['plain_store_us_per_message'])}",
        )
    console.print(table)
    if document["lookups"]:
        table = Table(title="Lookup CPU per request (µs, the responding process), same run")
        for column in ("query", "ONE Bus µs", "plain µs", "ratio", "per round"):
            table.add_column(column, justify="left" if column == "query" else "right")
        for row in document["lookups"]:
            table.add_row(
                row["query"],
                _us(row["bus_us_per_request"]),
                _us(row["plain_us_per_request"]),
                f"{row['ratio']:.2f}",
                " ".join(f"{r:.2f}" for r in row["ratios"]),
            )
        console.print(table)
    for name, shares in document["profiles"].items():
        parts = ", ".join(f"{part} {share:.0%}" for part, share in shares.items())
        console.print(f"profile {name}: {parts}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cpu-messages", type=int, default=2000, help="per CPU ingest round; 0 skips"
    )
    parser.add_argument("--cpu-rounds", type=int, default=2)
    parser.add_argument("--cpu-processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cpu-requests", type=int, default=400, help="per lookup round")
    parser.add_argument("--cpu-profile", type=Path, help="py-spy profiles into this folder")


async def _main(arguments: argparse.Namespace) -> None:
    async with servers() as running:
        result = await run(
            running,
            arguments.workloads or list(WORKLOADS),
            arguments.cpu_processes,
            arguments.cpu_messages,
            arguments.cpu_rounds,
            arguments.cpu_requests,
            arguments.cpu_profile,
        )
    document = summary(result)
    print_tables(document)
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, after the measurements)
    (out / "cpu.json").write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    # `python -m benchmarks.cpu`: this part alone, written to <out>/cpu.json.
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS))
    parser.add_argument("--out", default="bench-out")
    add_arguments(parser)
    asyncio.run(_main(parser.parse_args()))
