"""The SDK's outcomes and sessions on real servers: `wait=True` returns what ingest
stored or raises `RejectedError`; a lost answer is a timeout carrying the sequence; and
every read of the client carries its latest write as `after`."""

import uuid
from collections.abc import AsyncIterator

import pytest

from contracts.queries import EntitiesList
from one_bus import OneClient, OutcomeTimeoutError, QueryError, RejectedError
from services.runtime.service import OneBusService
from services.settings import Settings

pytestmark = [pytest.mark.integration]


@pytest.fixture
async def one(nats_url: str, tenant: str) -> AsyncIterator[OneClient]:
    async with OneClient(tenant, nats_url) as client:
        yield client


@pytest.mark.usefixtures("bus")
async def test_every_publish_method_waits_for_its_outcome(one: OneClient) -> None:
    ada, published = await one.upsert_entity(
        type="creator", name="Ada", actor_id="u", updated_at=2000, wait=True
    )
    assert published.outcome is not None
    assert (published.outcome.effect, published.outcome.seq) == ("created", published.seq)
    _, again = await one.upsert_entity(
        id=ada, type="creator", name="Old", actor_id="u", updated_at=1000, wait=True
    )
    assert again.outcome is not None
    assert again.outcome.effect == "unchanged"
    post, _ = await one.upsert_entity(type="blog_post", name="Notes", actor_id=ada, wait=True)

    _, link = await one.create_connection(
        from_id=ada, to_id=post, relationship_type="owns", wait=True
    )
    tag = await one.set_tag(ada, "topic", "math", wait=True)
    event_id, event = await one.publish_event(
        type="user_login", actor_id=ada, metadata={}, wait=True
    )
    untag = await one.delete_tag(ada, "topic", "math", wait=True)
    archived = await one.archive_entity(post, type="blog_post", actor_id="u", wait=True)
    deleted = await one.delete_entity(post, type="blog_post", actor_id="u", wait=True)
    effects = [p.outcome.effect if p.outcome else None for p in (link, tag, event, untag)]
    assert effects == ["created", "created", "created", "deleted"]
    assert archived.outcome is not None
    assert deleted.outcome is not None
    assert (archived.outcome.effect, deleted.outcome.effect) == ("archived", "deleted")

    # The same event again is a PubAck duplicate: answered by the SDK, without ingest.
    _, duplicate = await one.publish_event(
        type="user_login", actor_id=ada, metadata={}, id=event_id, wait=True
    )
    assert duplicate.duplicate
    assert duplicate.outcome is not None
    assert (duplicate.outcome.effect, duplicate.outcome.seq) == ("duplicate", event.seq)


@pytest.mark.usefixtures("bus")
async def test_a_rejected_write_raises_with_its_reason(one: OneClient) -> None:
    body = b'{"id": "x", "type": "blog_post", "name": "n", "updatedAt": 1, "actorId": "u"}'
    with pytest.raises(RejectedError) as raised:
        await one.publish_raw("entities.creator.upsert", body, wait=True)
    assert raised.value.code == "subject_mismatch"
    assert raised.value.seq >= 1
    assert "type" in raised.value.message


@pytest.mark.usefixtures("bus")
async def test_a_read_after_a_write_sees_it_without_waiting_for_the_outcome(
    one: OneClient,
) -> None:
    for n in range(20):
        entity, published = await one.upsert_entity(type="creator", name=f"A{n}", actor_id="u")
        assert one.last_seq == published.seq
        assert (await one.get_entity(entity)).name == f"A{n}"
    page = await one.list_entities(EntitiesList(type="creator", limit=100))
    assert len(page.items) == 20


async def test_a_lost_answer_is_a_timeout_carrying_the_sequence(
    private_nats_url: str, mongodb_uri: str, tenant: str
) -> None:
    """No ingest runs, so no answer comes: the timeout names the sequence to check."""
    settings = Settings(
        nats_url=private_nats_url,
        mongodb_uri=mongodb_uri,
        mongodb_db=f"one_bus_sdk_{uuid.uuid4().hex[:8]}",
    )
    async with OneBusService(settings, query=False):
        pass  # the streams and the ingest consumer, then ingest goes
    async with (
        OneBusService(settings, ingest=False),
        OneClient(tenant, private_nats_url, outcome_timeout_s=0.5, request_timeout_s=1) as one,
    ):
        with pytest.raises(OutcomeTimeoutError) as raised:
            await one.upsert_entity(id="late", type="creator", name="Ada", actor_id="u", wait=True)
        assert raised.value.seq == one.last_seq
        # Reading with that sequence: `timeout` while ingest is stopped, never a stale answer.
        with pytest.raises(QueryError) as refused:
            await one.get_entity("late")
        assert refused.value.code == "timeout"
        one.request_timeout_s = 15
        async with OneBusService(settings, query=False):
            assert (await one.get_entity("late")).name == "Ada"
