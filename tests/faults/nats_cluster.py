"""A 3-node nats-server cluster with JetStream, from the same binary as the embedded server.

Each node listens for clients and for cluster routes on free ports of 127.0.0.1, routes to
the other two, and keeps its JetStream store in a directory of its own, so a stopped node
restarts with its data: a 3-node NATS cluster runs locally, no containers needed.
"""

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Self

from services.runtime.embedded import HOST, EmbeddedServerError, find_executable, free_port

# The embedded server's child-process handling and readiness probe, reused as they are.
from services.runtime.embedded import _Child as Child
from services.runtime.embedded import _nats_ready as nats_ready


class NatsNode:
    def __init__(self, name: str, data_dir: Path) -> None:
        self.name = name
        self.client_port = free_port()
        self.route_port = free_port()
        self.store = data_dir / name
        self._child = Child(name, data_dir / "logs" / f"{name}.log", data_dir)

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.client_port}"

    @property
    def running(self) -> bool:
        return self._child.pid is not None and self._child.exit_code() is None

    def start(self, routes: list[str]) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self._child.start(
            [
                str(find_executable("nats-server")),
                "--name", self.name,
                "-a", HOST, "-p", str(self.client_port),
                "-js", "-sd", str(self.store),
                "--cluster_name", "one-bus-faults",
                "--cluster", f"nats://{HOST}:{self.route_port}",
                "--routes", ",".join(routes),
            ]
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: the node disappears as a crashed machine would."""
        self._child.kill()

    async def stop(self) -> None:
        await self._child.stop(10)

    def log_tail(self) -> str:
        return self._child.log_tail()


class NatsCluster:
    def __init__(self, data_dir: Path, size: int = 3, ready_timeout_s: float = 60) -> None:
        self.nodes = [NatsNode(f"n{i}", data_dir) for i in range(1, size + 1)]
        self._ready_timeout_s = ready_timeout_s

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def _routes(self, node: NatsNode) -> list[str]:
        return [f"nats://{HOST}:{other.route_port}" for other in self.nodes if other is not node]

    async def start(self) -> None:
        for node in self.nodes:
            node.start(self._routes(node))
        for node in self.nodes:
            await self.until_ready(node)

    async def restart(self, node: NatsNode) -> None:
        node.start(self._routes(node))
        await self.until_ready(node)

    async def until_ready(self, node: NatsNode) -> None:
        """Until the node serves JetStream (which needs a meta leader: a quorum of nodes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._ready_timeout_s
        while not await nats_ready(node.client_port, node.url):
            if not node.running or loop.time() > deadline:
                raise EmbeddedServerError(f"{node.name} not ready:\n{node.log_tail()}")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.stop()
