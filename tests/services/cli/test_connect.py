"""How CLI commands pick their connection: a credentials file, else a URL."""

from pathlib import Path

import pytest

from contracts.connection_spec import ConnectionSpec
from services.cli.connect import CliError, connection_spec
from tests.services.cli.command import one_bus


def test_without_credentials_the_url_is_an_open_connection() -> None:
    spec = connection_spec("nats://a:4222, nats://b:4222", None)
    assert spec == ConnectionSpec(servers=["nats://a:4222", "nats://b:4222"])
    assert connection_spec(None, None).servers == ["nats://127.0.0.1:4222"]


def test_a_credentials_file_says_who_connects_and_a_url_only_where(tmp_path: Path) -> None:
    path = tmp_path / "acme-reader.json"
    given = ConnectionSpec(
        servers=["nats://prod:4222"], user="acme-reader", password="pw", inbox_prefix="_I.acme"
    )
    path.write_text(given.model_dump_json())

    assert connection_spec(None, path) == given
    moved = connection_spec("nats://localhost:14222", path)
    assert (moved.servers, moved.user, moved.inbox_prefix) == (
        ["nats://localhost:14222"],
        "acme-reader",
        "_I.acme",
    )


def test_a_file_that_is_not_a_connection_spec_is_a_plain_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"servers": []}')
    with pytest.raises(CliError, match="not a connection spec"):
        connection_spec(None, path)


async def test_an_error_quoting_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"servers": ["nats://x:4222"], "publisher": {}}')
    ran = await one_bus("query", "entities.list", "-t", "acme", "--credentials", str(path))
    assert ran.code == 1
    assert ran.err.startswith(f"error: {path}: not a connection spec: 1 validation error")
    assert "[type=extra_forbidden" in ran.err
