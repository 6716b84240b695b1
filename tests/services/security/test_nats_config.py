"""Reloading signals nats-server only, never another process named by a stale pid file."""

import os
from pathlib import Path

from services.security.nats_config import nats_server_pid, reload_nats


def test_a_pid_file_naming_another_process_is_not_signalled(tmp_path: Path) -> None:
    pid_file = tmp_path / "nats-server.pid"
    pid_file.write_text(str(os.getpid()))  # this test process: SIGHUP would end it
    assert nats_server_pid(pid_file) is None
    assert reload_nats(pid_file) is False
    pid_file.write_text("not a pid")
    assert nats_server_pid(pid_file) is None
    assert nats_server_pid(tmp_path / "missing.pid") is None
