"""The SDK raises `NotAllowedError` as soon as the server refuses something for this
identity, and `ConnectError` for a server it cannot reach, instead of bare timeouts.

Every timeout these calls could wait on is an hour: that they end, with the refusal,
proves they did not wait for one.
"""

import socket

import pytest

from contracts.connection_spec import ConnectionSpec
from one_bus import ConnectError, NotAllowedError, OneClient
from one_bus.errors import not_allowed
from services.runtime.secure_dev import SecureStack
from tests.fixtures.secure import TenantSpecs, add_tenant

AN_HOUR = 3600.0


@pytest.mark.integration
@pytest.mark.usefixtures("secure_bus")
async def test_what_a_role_may_not_do_is_refused_at_once(
    acme: TenantSpecs, beta: TenantSpecs
) -> None:
    async with (
        OneClient("acme", acme.subscriber, request_timeout_s=AN_HOUR) as subscriber,
        OneClient("acme", acme.publisher, publish_timeout_s=AN_HOUR) as publisher,
    ):
        with pytest.raises(NotAllowedError) as query:
            await subscriber.query("entities.list")
        assert (query.value.action, query.value.subject) == (
            "publish",
            "one.v1.acme.query.entities.list",
        )
        with pytest.raises(NotAllowedError, match=r"may not publish to one\.v1\.beta\."):
            await publisher.publish_raw("one.v1.beta.entities.creator.upsert", b"{}")
        with pytest.raises(NotAllowedError, match=r"\$js\.api\.consumer\."):
            await publisher.subscribe("changes").start()
        # The connection is still usable for what the role may do.
        _, ack = await publisher.upsert_entity(type="creator", name="Ada", actor_id="u")
        assert ack.seq > 0


@pytest.mark.integration
@pytest.mark.usefixtures("secure_bus")
async def test_the_refused_subject_keeps_its_case(secure_stack: SecureStack) -> None:
    mixed = await add_tenant(secure_stack, "MixedCase")
    async with OneClient("MixedCase", mixed.subscriber) as subscriber:
        with pytest.raises(NotAllowedError) as refused:
            await subscriber.query("entities.list")
    assert refused.value.subject == "one.v1.MixedCase.query.entities.list"


def test_the_servers_error_text_maps_to_action_and_subject() -> None:
    publish = not_allowed(Exception('nats: permissions violation for publish to "one.v1.a.x"'))
    assert publish is not None
    assert (publish.action, publish.subject) == ("publish", "one.v1.a.x")
    subscribe = not_allowed(
        Exception('nats: permissions violation for subscription to "_inbox.>" using queue "q"')
    )
    assert subscribe is not None
    assert str(subscribe) == "not allowed: this identity may not subscribe to _inbox.>"
    assert not_allowed(Exception("nats: stale connection")) is None


async def test_an_unreachable_server_is_a_connect_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"nats://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(ConnectError, match=f"cannot connect to NATS at {url}"):
            await OneClient.connect("acme", ConnectionSpec(servers=[url]))
