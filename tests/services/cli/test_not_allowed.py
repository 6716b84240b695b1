"""A permission the identity lacks is said at once, in one line, with exit code 77.

On the secure stack, with the specs `tenant add` prints: each command does something its
role may not, and every timeout it could otherwise wait on is an hour; that it ends, with
the server's refusal as its message, is the proof that it did not wait for one.
"""

from pathlib import Path

import pytest

from contracts.connection_spec import ConnectionSpec
from services.cli.connect import EXIT_NOT_ALLOWED
from tests.fixtures.secure import TenantSpecs
from tests.services.cli.command import Ran, one_bus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secure_bus")]

AN_HOUR = "3600"


def written(spec: ConnectionSpec, path: Path) -> str:
    path.write_text(spec.model_dump_json(exclude_none=True))
    return str(path)


async def as_role(spec: ConnectionSpec, tmp_path: Path, *args: str) -> Ran:
    return await one_bus(
        *args,
        "--credentials",
        written(spec, tmp_path / "spec.json"),
        env={"ONE_PUBLISH_ACK_TIMEOUT_S": AN_HOUR},
        timeout_s=120,
    )


def assert_refused(ran: Ran, action: str, subject: str) -> None:
    assert ran.code == EXIT_NOT_ALLOWED, ran
    assert ran.err.strip() == f"error: not allowed: this identity may not {action} to {subject}"
    assert ran.out == ""


async def test_a_subscriber_query_is_refused_not_timed_out(
    acme: TenantSpecs, tmp_path: Path
) -> None:
    ran = await as_role(
        acme.subscriber, tmp_path, "query", "entities.list", "-t", "acme", "--timeout", AN_HOUR
    )
    assert_refused(ran, "publish", "one.v1.acme.query.entities.list")


async def test_a_publisher_publishing_for_another_tenant_is_refused(
    acme: TenantSpecs, beta: TenantSpecs, tmp_path: Path
) -> None:
    entity = '{"id":"c1","type":"creator","name":"Ada","updatedAt":1,"actorId":"u"}'
    ran = await as_role(
        acme.publisher, tmp_path, "publish", "one.v1.beta.entities.creator.upsert", entity
    )
    assert_refused(ran, "publish", "one.v1.beta.entities.creator.upsert")


async def test_a_subscriber_reading_the_dead_letter_stream_is_refused(
    acme: TenantSpecs, tmp_path: Path
) -> None:
    ran = await as_role(acme.subscriber, tmp_path, "dlq", "list", "--tenant", "acme")
    assert ran.code == EXIT_NOT_ALLOWED, ran
    assert ran.err.startswith("error: not allowed: this identity may not publish to $js.api.")
    assert len(ran.err.splitlines()) == 1


async def test_a_publisher_tail_is_refused_not_silent(acme: TenantSpecs, tmp_path: Path) -> None:
    # Nothing would ever arrive: without the refusal this would follow forever.
    ran = await as_role(acme.publisher, tmp_path, "tail", "changes", "-t", "acme")
    assert ran.code == EXIT_NOT_ALLOWED, ran
    assert "not allowed: this identity may not publish to $js.api.consumer." in ran.err
    assert "Traceback" not in ran.err


async def test_the_credentials_tenant_is_used_without_t(acme: TenantSpecs, tmp_path: Path) -> None:
    spec = acme.subscriber.model_copy(update={"tenant": "acme"})
    ran = await as_role(spec, tmp_path, "query", "entities.list", "--timeout", AN_HOUR)
    assert_refused(ran, "publish", "one.v1.acme.query.entities.list")


async def test_a_tenants_publisher_spec_publishes_without_t(
    acme: TenantSpecs, tmp_path: Path
) -> None:
    spec = acme.publisher.model_copy(update={"tenant": "acme", "role": "publisher"})
    entity = '{"id":"c2","type":"creator","name":"Ada","updatedAt":1,"actorId":"u"}'
    ran = await as_role(spec, tmp_path, "publish", "entities.creator.upsert", entity)
    assert ran.code == 0, ran
    assert ran.out.startswith("one.v1.acme.entities.creator.upsert: in the stream as ")
