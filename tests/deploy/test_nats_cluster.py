"""The production NATS configuration run for real: three nats-servers from the ConfigMap's
nats.conf (ports and route names mapped onto this machine, nothing else changed), the
users, permissions and certificate of `security init`, and the ingest identity declaring
the service's streams with the overlay's replica count."""

import asyncio
import contextlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from contracts.connection_spec import ConnectionSpec
from one_bus.connection import nats_options
from services.runtime.embedded import free_port
from services.runtime.streams import declare_streams
from services.settings import Settings
from tests.deploy.manifests import BIN, documented_init, one, pod_spec, rendered


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def node_config(config: str, node: int, ports: list[dict[str, int]], root: Path) -> str:
    """The ConfigMap's text with this node's ports, routes to the others on 127.0.0.1, and
    the mounted directories under `root`; every replacement must hit once."""
    replacements = {
        "\nport: 4222\n": f"\nport: {ports[node]['client']}\n",
        "\nhttp_port: 8222\n": f"\nhttp_port: {ports[node]['monitor']}\n",
        "  port: 6222\n": f"  port: {ports[node]['cluster']}\n",
        "/etc/nats/": f"{root}/etc/",
        "store_dir: /data\n": f"store_dir: {root}/data\n",
    }
    for i, port in enumerate(ports):
        replacements[f"nats://nats-{i}.nats-headless:6222"] = f"nats://127.0.0.1:{port['cluster']}"
    for old, new in replacements.items():
        assert config.count(old) >= 1, old
        config = config.replace(old, new)
    return config


@contextlib.contextmanager
def cluster(
    config: str, env: dict[str, str], layout: Path, ports: list[dict[str, int]], tmp: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One nats-server per node, each with the files the pod's projected volume holds."""
    with contextlib.ExitStack() as stack:
        processes = []
        for node in range(len(ports)):
            root = tmp / f"nats-{node}"
            (root / "etc").mkdir(parents=True)
            (root / "etc" / "nats.conf").write_text(node_config(config, node, ports, root))
            (root / "etc" / "auth.conf").write_text((layout / "nats" / "auth.conf").read_text())
            for name in ("server.pem", "server-key.pem"):
                (root / "etc" / name).write_text((layout / "tls" / name).read_text())
            log = stack.enter_context((root / "nats.log").open("wb"))
            process = subprocess.Popen(
                [str(BIN / "nats-server"), "-c", str(root / "etc" / "nats.conf")],
                env={**env, "SERVER_NAME": f"nats-{node}"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(process.wait, timeout=30)
            stack.callback(process.terminate)
            processes.append(process)
        yield processes


@pytest.mark.integration
async def test_the_cluster_forms_and_keeps_the_streams_on_every_node(tmp_path: Path) -> None:
    manifests = rendered("production")
    config = one(manifests, "ConfigMap", "nats-config")["data"]["nats.conf"]
    statefulset = one(manifests, "StatefulSet", "nats")
    (container,) = pod_spec(statefulset)["containers"]
    env = {v["name"]: v["value"] for v in container["env"] if "value" in v}
    replicas = int(one(manifests, "ConfigMap", "one-bus")["data"]["ONE_STREAM_REPLICAS"])
    nodes = statefulset["spec"]["replicas"]
    layout = documented_init(tmp_path / "secure") / "security"
    ports = [{k: free_port() for k in ("client", "cluster", "monitor")} for _ in range(nodes)]
    with cluster(config, env, layout, ports, tmp_path) as processes:
        deadline = time.monotonic() + 90
        while not all([await asyncio.to_thread(healthy, p["monitor"]) for p in ports]):
            assert all(process.poll() is None for process in processes), "a node exited"
            assert time.monotonic() < deadline, "the cluster did not form"
            await asyncio.sleep(0.5)

        spec = ConnectionSpec.model_validate_json((layout / "specs" / "ingest.json").read_text())
        spec = spec.model_copy(
            update={
                "servers": [f"tls://127.0.0.1:{p['client']}" for p in ports],
                "tls_ca": str(layout / "tls" / "ca.pem"),
            }
        )
        client = await nats.connect(**nats_options(spec), allow_reconnect=False)
        try:
            js = client.jetstream()
            settings = Settings(stream_replicas=replicas)
            await declare_streams(js, settings)
            for stream in (settings.ingest_stream, settings.changes_stream, settings.dlq_stream):
                info = await js.stream_info(stream)
                assert info.config.num_replicas == replicas == nodes
                assert info.cluster is not None
                assert info.cluster.leader is not None
                assert len(info.cluster.replicas or []) == nodes - 1
        finally:
            await client.close()
