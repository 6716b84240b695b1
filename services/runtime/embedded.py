"""Real servers as child processes: nats-server with JetStream and SecantusDB.

Used by `one-bus dev` and the test suite. Both binaries come from the optional extra
`one-bus[embedded]`; nothing here is needed by `one-bus serve`.

    async with EmbeddedServers(Path(".one-data")) as servers:
        servers.nats_url, servers.mongodb_uri

Each server logs to `data_dir/logs/<name>.log` and keeps its data under `data_dir/nats` or
`data_dir/mongo`, so data survives `stop_*()`/`start_*()` and later runs on the same directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import nats

from services.store.mongodb.connection import answers

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
INSTALL_HINT = "pip install 'one-bus[embedded]'"
_LOG_TAIL_LINES = 40
MONGO_PROBE_TIMEOUT_S = 5.0


class EmbeddedServerError(RuntimeError):
    """An embedded server is missing, exited early, or did not become ready in time."""


def find_executable(name: str) -> Path:
    """`name` next to the running interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise EmbeddedServerError(
            f"{name!r} not found next to {sys.executable} or on PATH; install it with "
            f"{INSTALL_HINT}"
        )
    return Path(found)


def check_port_free(port: int, flag: str) -> None:
    """Raise unless `port` can be listened on: never attach to another instance's server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as error:
            raise EmbeddedServerError(
                f"port {port} on {HOST} is in use ({error.strerror}): another server is "
                f"there; stop it or choose another port with {flag}"
            ) from None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child if we die without cleaning up."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


class _Child:
    """One server process: started in its own process group, output appended to a log file."""

    def __init__(self, name: str, log_path: Path, cwd: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self, argv: Sequence[str]) -> None:
        if self._proc is not None and self._proc.poll() is None:
            raise EmbeddedServerError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- starting: {' '.join(argv)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                list(argv),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )

    async def stop(self, grace_s: float) -> None:
        """SIGTERM, wait up to `grace_s`, then SIGKILL. Kills at once if cancelled meanwhile."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
                await self._wait(proc, grace_s)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the child if it is still running and reap it; a no-op once stopped."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            self._signal(proc, signal.SIGKILL)
            proc.wait()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # Only called while the child is unreaped, so its pid (= its group id, thanks to
        # start_new_session) cannot have been reused; the whole group gets the signal.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    @staticmethod
    async def _wait(proc: subprocess.Popen[bytes], grace_s: float) -> None:
        step = 0.05
        for _ in range(max(1, round(grace_s / step))):
            if proc.poll() is not None:
                return
            await asyncio.sleep(step)


async def _nats_ready(port: int, url: str, options: Mapping[str, Any] | None = None) -> bool:
    # Probe the socket first: nats-py retries a refused first connect for a long time.
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        if not (await asyncio.wait_for(reader.readline(), 1.0)).startswith(b"INFO "):
            return False
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def quiet(_: Exception) -> None:
        return None

    try:
        nc = await nats.connect(
            url, connect_timeout=1, allow_reconnect=False, max_reconnect_attempts=0,
            error_cb=quiet, **(options or {}),
        )  # fmt: skip
    except Exception:
        return False
    try:
        await nc.jetstream().account_info()
        return True
    except Exception:
        return False
    finally:
        await nc.close()


class EmbeddedServers:
    """nats-server (JetStream) and SecantusDB as child processes, data under `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        nats_port: int = 0,
        mongo_port: int = 0,
        nats_args: Sequence[str] = (),
        *,
        ready_timeout_s: float = 60.0,
        stop_timeout_s: float = 15.0,
        sync_on_commit: bool = True,
        mongo_args: Sequence[str] = (),
        mongo_uri_options: str = "",
        nats_probe_options: Mapping[str, Any] | None = None,
    ) -> None:
        # Absolute: the children run with the data directory as their cwd, so a relative
        # path in their arguments would nest (`.one-data/.one-data/nats`).
        self.data_dir = Path(data_dir).absolute()
        self.nats_port = nats_port  # 0 until the first start picks a free port
        self.mongo_port = mongo_port
        self.nats_args = tuple(nats_args)
        # The secure layout (services/security): SecantusDB's --auth/TLS flags, what its
        # URI then needs (`&tls=true&tlsCAFile=...`), and credentials/TLS for the probe.
        self.mongo_args = tuple(mongo_args)
        self.mongo_uri_options = mongo_uri_options
        self.nats_probe_options = dict(nats_probe_options or {})
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        # Off only to measure what durability costs (benchmarks): never for real data.
        self.sync_on_commit = sync_on_commit
        logs = self.data_dir / "logs"
        self._nats = _Child("nats-server", logs / "nats.log", self.data_dir)
        self._mongo = _Child("secantusd", logs / "mongo.log", self.data_dir)
        # Children started and not deliberately stopped: the ones supervise() restarts.
        self._wanted: dict[_Child, Callable[[], Awaitable[None]]] = {}

    @property
    def nats_url(self) -> str:
        if not self.nats_port:
            raise EmbeddedServerError("nats-server has not been started")
        return f"nats://{HOST}:{self.nats_port}"

    @property
    def mongodb_uri(self) -> str:
        if not self.mongo_port:
            raise EmbeddedServerError("secantusd has not been started")
        # SecantusDB announces itself as replica set "secantus" on 127.0.0.1:<port>.
        return f"mongodb://{HOST}:{self.mongo_port}/?directConnection=true{self.mongo_uri_options}"

    @property
    def pids(self) -> list[int]:
        """Process ids of the running children (for tests and diagnostics)."""
        return [pid for pid in (self._nats.pid, self._mongo.pid) if pid is not None]

    async def start_nats(self) -> None:
        binary = find_executable("nats-server")
        if self.nats_port and self._nats.pid is None:
            check_port_free(self.nats_port, "--nats-port")
        self.nats_port = self.nats_port or free_port()
        store = self.data_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        argv = [str(binary), "-js", "-a", HOST, "-p", str(self.nats_port), "-sd", str(store)]
        self._nats.start([*argv, *self.nats_args])
        await self._until_ready(
            self._nats, lambda: _nats_ready(self.nats_port, self.nats_url, self.nats_probe_options)
        )
        self._wanted[self._nats] = self.start_nats

    async def start_mongo(self) -> None:
        binary = find_executable("secantusd-py")
        if self.mongo_port and self._mongo.pid is None:
            check_port_free(self.mongo_port, "--mongo-port")
        self.mongo_port = self.mongo_port or free_port()
        store = self.data_dir / "mongo"
        store.mkdir(parents=True, exist_ok=True)
        # --sync-on-commit: a commit is on disk before the server answers, so a write it
        # acknowledged survives the server being killed (its default keeps the journal in
        # memory for a while; j: true asks the same per write).
        argv = [str(binary), "--host", HOST, "--port", str(self.mongo_port),
                "--storage-path", str(store), *self.mongo_args]  # fmt: skip
        self._mongo.start([*argv, "--sync-on-commit"] if self.sync_on_commit else argv)
        # One patient probe rather than many hasty ones: the client retries the connection
        # itself and answers as soon as the server does, and a TLS handshake is not cut
        # short on a slow machine (SecantusDB runs handshakes on its accept thread, with no
        # timeout: one left half-done holds up every later connection).
        await self._until_ready(
            self._mongo, lambda: answers(self.mongodb_uri, timeout_s=MONGO_PROBE_TIMEOUT_S)
        )
        self._wanted[self._mongo] = self.start_mongo

    async def stop_nats(self) -> None:
        self._wanted.pop(self._nats, None)
        await self._nats.stop(self.stop_timeout_s)

    async def stop_mongo(self) -> None:
        self._wanted.pop(self._mongo, None)
        await self._mongo.stop(self.stop_timeout_s)

    def kill_mongo(self) -> None:
        """SIGKILL SecantusDB, as a crash would (fault injection); start_mongo() brings it back."""
        self._wanted.pop(self._mongo, None)
        self._mongo.kill()

    async def supervise(self, poll_s: float = 0.5, max_backoff_s: float = 30.0) -> None:
        """Restart any child that exits without being stopped, with backoff; runs until
        cancelled. Each crash and restart is logged."""
        backoff: dict[_Child, float] = {}
        while True:
            await asyncio.sleep(poll_s)
            for child, start in list(self._wanted.items()):
                code = child.exit_code()
                if code is None:
                    backoff.pop(child, None)
                    continue
                delay = backoff.get(child, 0.5)
                log.error(
                    "%s exited with code %s; restarting in %.1f s (log: %s)",
                    child.name, code, delay, child.log_path,
                )  # fmt: skip
                await asyncio.sleep(delay)
                backoff[child] = min(delay * 2, max_backoff_s)
                child.kill()  # reap it: no defunct process left behind
                try:
                    await start()
                except EmbeddedServerError as error:
                    log.error("%s did not come back: %s", child.name, str(error).splitlines()[0])
                    self._wanted[child] = start  # keep trying
                else:
                    log.info("%s restarted", child.name)

    async def stop(self) -> None:
        """Stop both; each is stopped (or killed) even if the other fails or we are cancelled."""
        try:
            await asyncio.gather(self.stop_nats(), self.stop_mongo())
        finally:
            self._nats.kill()  # no-ops after a clean stop; cover an interrupted one
            self._mongo.kill()

    async def __aenter__(self) -> Self:
        try:
            await self.start_nats()
            await self.start_mongo()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _until_ready(self, child: _Child, probe: Callable[[], Awaitable[bool]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout_s
        task = asyncio.current_task()
        cancel_requests = task.cancelling() if task else 0
        while True:
            code = child.exit_code()
            if code is not None:
                raise EmbeddedServerError(
                    f"{child.name} exited with code {code} before becoming ready; "
                    f"last lines of {child.log_path}:\n{child.log_tail()}"
                )
            ready = await probe()
            if task and task.cancelling() > cancel_requests:
                # A fresh AsyncMongoClient can swallow a cancellation (seen with pymongo
                # 4.20); honour it rather than carry on starting.
                raise asyncio.CancelledError
            if ready and child.exit_code() is None:
                return
            if loop.time() >= deadline:
                await child.stop(self.stop_timeout_s)
                raise EmbeddedServerError(
                    f"{child.name} not ready after {self.ready_timeout_s:.0f}s; "
                    f"last lines of {child.log_path}:\n{child.log_tail()}"
                )
            await asyncio.sleep(0.1)
