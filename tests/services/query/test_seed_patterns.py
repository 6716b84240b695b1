"""The seed's three query patterns, asked over NATS exactly as a user would."""

from typing import Any

import pytest

from contracts.queries import ConnectionItem, OkReply, Page
from contracts.records import EntityRecord, EventRecord
from tests.services.query.conftest import Ask
from tests.services.query.stored import connection, entity, event, insert, record

pytestmark = pytest.mark.integration


async def test_get_a_creator(ask: Ask, query_db: Any, tenant: str) -> None:
    creator = entity(tenant, "creator-1", type="creator", name="Ada", status="active")
    await insert(query_db, "entities", creator, entity(tenant, "post-1", type="blog_post"))

    answer = await ask("entities.get", {"id": "creator-1", "type": "creator"})
    assert answer.data == record(creator)
    assert OkReply[EntityRecord].model_validate(answer.body).data.name == "Ada"

    # Like the seed's getCreator: an entity of another type is "Creator not found".
    not_a_creator = await ask("entities.get", {"id": "post-1", "type": "creator"})
    assert not_a_creator.error["code"] == "not_found"


async def test_the_content_a_creator_owns(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(
        query_db,
        "entities",
        entity(tenant, "creator-1", type="creator"),
        entity(tenant, "post-1", type="blog_post", created=10),
        entity(tenant, "video-1", type="video", created=20),
    )
    await insert(
        query_db,
        "connections",
        connection(tenant, "own-1", "creator-1", "post-1", created=100),
        connection(tenant, "own-2", "creator-1", "video-1", created=200),
        connection(tenant, "own-3", "creator-1", "course-1", created=300),  # not arrived yet
        connection(tenant, "auth-1", "creator-1", "post-1", relationship="authored", created=400),
    )

    answer = await ask(
        "connections.list",
        {"fromEntityId": "creator-1", "relationshipType": "owns", "withEntities": True},
    )
    page = OkReply[Page[ConnectionItem]].model_validate(answer.body).data
    assert [item.id for item in page.items] == ["own-3", "own-2", "own-1"]
    owned = [item.toEntity.id if item.toEntity else None for item in page.items]
    assert owned == [None, "video-1", "post-1"]
    assert page.nextCursor is None


async def test_a_users_processed_payments(ask: Ask, query_db: Any, tenant: str) -> None:
    def payment(event_id: str, at: int, status: str, actor: str = "user-1") -> dict[str, Any]:
        metadata = {"status": status, "protocol": "x402", "amount": 5}
        return event(
            tenant, event_id, type="payment_event", actor=actor, timestamp=at, metadata=metadata
        )

    await insert(
        query_db,
        "events",
        payment("pay-1", 100, "processed"),
        payment("pay-2", 200, "requested"),
        payment("pay-3", 300, "processed"),
        payment("pay-4", 400, "processed", actor="user-2"),
        event(tenant, "login-1", type="user_login", actor="user-1", timestamp=500),
    )

    answer = await ask(
        "events.list",
        {"actorId": "user-1", "type": "payment_event", "metadata": {"status": "processed"}},
    )
    page = OkReply[Page[EventRecord]].model_validate(answer.body).data
    assert [item.id for item in page.items] == ["pay-3", "pay-1"]
    assert {item.metadata["status"] for item in page.items} == {"processed"}
