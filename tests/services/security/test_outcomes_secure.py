"""Outcomes and read-your-writes on the secure stack, with ingest and query apart on their
own identities: the ingest identity answers a publisher's outcome in its tenant inbox,
refuses (and counts) one aimed at another tenant's inbox, the query identity reads the
ingest consumer's progress for `after`, and the server refuses neither anything."""

import json
import uuid
from pathlib import Path

import pytest

from contracts.outcomes import OUTCOME_TO_HEADER
from services.runtime.secure_dev import secure_servers
from services.runtime.service import OneBusService
from services.security.roles import Role
from tests.fixtures.secure import add_tenant, connect
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


async def test_outcomes_go_to_the_askers_inbox_only_and_after_reads_progress(
    tmp_path: Path,
) -> None:
    async with secure_servers(tmp_path) as stack:
        acme, beta = await add_tenant(stack, "acme"), await add_tenant(stack, "beta")
        layout = stack.layout
        ingest_settings = stack.settings.model_copy(
            update={"nats_credentials_file": layout.spec_path(Role.INGEST)}
        )
        query_settings = stack.settings.model_copy(
            update={"nats_credentials_file": layout.spec_path(Role.QUERY)}
        )
        async with (
            OneBusService(ingest_settings, ingest=True, query=False) as ingest,
            OneBusService(query_settings, ingest=False, query=True),
        ):
            publisher = await connect(acme.publisher)
            victim = await connect(beta.publisher)
            try:
                client, js = publisher.client, publisher.client.jetstream()
                beta_inbox = victim.client.new_inbox()
                stolen = await victim.client.subscribe(beta_inbox)
                await victim.client.flush()

                def body(entity: str) -> bytes:
                    record = {"id": entity, "type": "creator", "name": "Ada", "updatedAt": 1}
                    return json.dumps({**record, "actorId": "u"}).encode()

                subject = "one.v1.acme.entities.creator.upsert"
                # Aimed at beta's inbox: refused, counted, never published.
                headers = {"Nats-Msg-Id": uuid.uuid4().hex, OUTCOME_TO_HEADER: beta_inbox}
                await js.publish(subject, body("aimed"), headers=headers)

                own = client.new_inbox()
                answers = await client.subscribe(own)
                headers = {"Nats-Msg-Id": uuid.uuid4().hex, OUTCOME_TO_HEADER: own}
                ack = await js.publish(subject, body("c1"), headers=headers)
                outcome = json.loads((await answers.next_msg(timeout=20)).data)
                assert (outcome["status"], outcome["seq"]) == ("stored", ack.seq)
                assert outcome["records"][0]["effect"] == "created"

                async def refused() -> float:
                    value = ingest.metrics_registry.get_sample_value(
                        "one_bus_ingest_outcomes_total", {"result": "refused"}
                    )
                    return value or 0.0

                assert await eventually(refused, lambda n: n >= 1) == 1
                await victim.client.flush()
                assert stolen.pending_msgs == 0

                request = json.dumps({"id": "c1", "after": ack.seq}).encode()
                reply = await client.request("one.v1.acme.query.entities.get", request, timeout=10)
                answer = json.loads(reply.data)
                assert answer["ok"] is True, answer
            finally:
                await publisher.client.close()
                await victim.client.close()
        log = (layout.data_dir / "logs" / "nats.log").read_text()
        assert [line for line in log.splitlines() if "Violation" in line] == []
