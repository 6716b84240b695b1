"""nats-server's configuration for the secure layout, and reloading a running server.

Two files: `nats.conf` (TLS, pid file, `include auth.conf`) written once, and
`auth.conf` (the users and their permissions) rewritten whenever a tenant is added or
removed. A reload (SIGHUP, what `nats-server --signal reload` sends) applies the new
users without a restart, and the server closes the connections of users it no longer has.
"""

import contextlib
import json
import os
import signal
from pathlib import Path

from services.security.identities import Identity, authorization_config, write_private
from services.security.tls_files import TlsFiles


def write_main_config(path: Path, *, tls: TlsFiles | None, pid_file: Path) -> None:
    lines = [f"pid_file: {json.dumps(str(pid_file))}"]
    if tls is not None:
        tls_block = {"cert_file": str(tls.cert), "key_file": str(tls.key), "timeout": 5}
        lines.append(f"tls: {json.dumps(tls_block)}")
    # Relative to this file's directory.
    lines.append("include ./auth.conf")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def write_auth_config(
    path: Path,
    identities: list[Identity],
    ingest_consumer: str,
    marker: tuple[str, str] | None = None,
) -> None:
    # Only bcrypt hashes in there, but who may connect as what is nobody else's business.
    write_private(path, authorization_config(identities, ingest_consumer, marker))


def nats_server_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` if it is a nats-server running here, else None.

    The file may come from another machine or container (a shared volume), where that
    pid is some other process, possibly this one: never signal what is not nats-server.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return None
    return pid if Path(command.decode(errors="replace")).name == "nats-server" else None


def reload_nats(pid_file: Path) -> bool:
    """Ask the nats-server whose pid is in `pid_file` to reload; False if none runs here."""
    pid = nats_server_pid(pid_file)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGHUP)
        return True
    return False
