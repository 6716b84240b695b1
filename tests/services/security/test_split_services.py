"""The ingest and query identities are enough for what each does: on a secure stack of
its own (no other replica to do the work), an ingest-only and a query-only replica store
and answer, and the server refuses neither anything."""

import json
from pathlib import Path

import pytest

from services.runtime.secure_dev import secure_servers
from services.runtime.service import OneBusService
from services.security.roles import Role
from tests.fixtures.secure import add_tenant, connect
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


async def test_ingest_and_query_run_apart_on_their_own_identities(tmp_path: Path) -> None:
    async with secure_servers(tmp_path) as stack:
        acme = await add_tenant(stack, "acme")
        layout = stack.layout
        ingest = stack.settings.model_copy(
            update={"nats_credentials_file": layout.spec_path(Role.INGEST)}
        )
        query = stack.settings.model_copy(
            update={"nats_credentials_file": layout.spec_path(Role.QUERY)}
        )
        async with (
            OneBusService(ingest, ingest=True, query=False),
            OneBusService(query, ingest=False, query=True),
        ):
            publisher = await connect(acme.publisher)
            try:
                body = {
                    "id": "c1",
                    "type": "creator",
                    "name": "Ada",
                    "updatedAt": 1,
                    "actorId": "u",
                }
                await publisher.client.jetstream().publish(
                    "one.v1.acme.entities.creator.upsert", json.dumps(body).encode()
                )

                async def get() -> dict[str, object]:
                    reply = await publisher.client.request(
                        "one.v1.acme.query.entities.get", b'{"id": "c1"}', timeout=5
                    )
                    answer: dict[str, object] = json.loads(reply.data)
                    return answer

                assert (await eventually(get, lambda a: a.get("ok") is True))["ok"] is True
            finally:
                await publisher.client.close()
        log = (layout.data_dir / "logs" / "nats.log").read_text()
        assert [line for line in log.splitlines() if "Violation" in line] == []
