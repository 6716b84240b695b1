"""`one-bus tenant` in open `dev` (no secure layout): quotas, list, stats and remove as a
user runs them, a separate process against the session's real servers."""

import json
import uuid
from pathlib import Path

import pytest

from services.runtime.service import OneBusService
from tests.services.cli.command import one_bus

pytestmark = pytest.mark.integration


async def test_a_tenant_registered_set_listed_measured_and_removed(
    bus: OneBusService, nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONE_MONGODB_URI", bus.settings.mongodb_uri)
    monkeypatch.setenv("ONE_MONGODB_DB", bus.settings.mongodb_db)
    tenant = f"cli_{uuid.uuid4().hex[:8]}"
    where = ("--data-dir", str(tmp_path))

    ran = await one_bus("tenant", "add", tenant, "--max-watches", "3", *where, nats_url=nats_url)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {"tenant": tenant, "quotas": {"max_watches": 3}}
    ran = await one_bus("tenant", "add", tenant, "--role", "org_user", *where, nats_url=nats_url)
    assert ran.code == 2  # roles are identities: the secure layout's
    assert "secure layout" in ran.err
    ran = await one_bus("tenant", "add", tenant, "--role", "platform_owner", *where)
    assert ran.code == 2
    assert "the platform owner is the operator identity" in ran.err

    ran = await one_bus(
        "tenant", "set", tenant, "--max-backlog-msgs", "5000", *where, nats_url=nats_url
    )
    assert ran.code == 0, ran.err
    answer = json.loads(ran.out)
    assert answer["quotas"] == {"max_watches": 3, "max_backlog_msgs": 5000}
    assert (
        answer["effective"]["max_concurrent_queries"] == bus.settings.tenant_max_concurrent_queries
    )
    ran = await one_bus("tenant", "set", tenant, *where, nats_url=nats_url)
    assert ran.code == 2

    ran = await one_bus("tenant", "list", "--json", *where, nats_url=nats_url)
    assert ran.code == 0, ran.err
    rows = {row["tenant"]: row for row in json.loads(ran.out)}
    assert rows[tenant] == {
        "tenant": tenant,
        "roles": [],
        "quotas": {"max_watches": 3, "max_backlog_msgs": 5000},
    }

    event = {"id": "e1", "type": "user_login", "actorId": "u", "timestamp": 1, "metadata": {}}
    ran = await one_bus(
        "publish", "events.user_login", json.dumps(event), "-t", tenant, nats_url=nats_url
    )
    assert ran.code == 0, ran.err
    ran = await one_bus(
        "tenant", "stats", tenant, "--json", "--interval", "0.2", *where, nats_url=nats_url
    )
    assert ran.code == 0, ran.err
    [usage] = json.loads(ran.out)
    assert usage["tenant"] == tenant
    assert set(usage["records"]) == {"entities", "connections", "events", "tags"}
    assert usage["quotas"]["max_backlog_msgs"]["limit"] == 5000
    assert usage["quotas"]["max_watches"] == {"used": 0, "limit": 3}
    ran = await one_bus("tenant", "stats", tenant, *where, nats_url=nats_url)
    assert ran.code == 0, ran.err
    assert "backlog" in ran.out

    ran = await one_bus("tenant", "remove", tenant, "--json", *where, nats_url=nats_url)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["quotas_deleted"] is True
    ran = await one_bus("tenant", "list", "--json", *where, nats_url=nats_url)
    assert tenant not in {row["tenant"] for row in json.loads(ran.out)}


async def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    ran = await one_bus(
        "tenant", "list", "--data-dir", str(tmp_path), nats_url="nats://127.0.0.1:1"
    )
    assert ran.code == 1
    assert ran.err.startswith("error: cannot reach NATS")
    assert "Traceback" not in ran.err
