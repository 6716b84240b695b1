"""Property: no input stops the service, every hostile message is one dead letter with its
reason, and the good messages around it are stored.

Two layers. `decode` (pure) is checked with Hypothesis's full machinery, shrinking
included: every generated hostile message is rejected with exactly the reason its breakage
implies. Then a few hundred generated hostile messages, each between two good ones, go
through a running `one-bus serve` on servers of its own: the process stays up, the DLQ
holds exactly one dead letter per hostile message (reason, subject and original bytes),
and the store holds exactly the good messages.
"""

import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from services.ingest.decode import decode
from services.ingest.input_limits import InputLimits
from services.ingest.raw_message import RawMessage
from services.ingest.rejection import Rejection
from services.runtime.embedded import EmbeddedServers
from tests.faults.hostile import TENANT, Hostile, hostile_messages
from tests.faults.scenario import Scenario
from tests.faults.workload import Message

pytestmark = pytest.mark.faults

MAX_PAYLOAD = 256 * 1024


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_messages)
def test_decode_rejects_each_hostile_message_with_its_reason(hostile: Hostile) -> None:
    raw = RawMessage(
        subject=f"one.v1.{TENANT}.{hostile.suffix}",
        data=hostile.data,
        stream_seq=1,
        received_ms=2_000_000_000_000,
        headers={"Nats-Msg-Id": "m1", **dict(hostile.headers)},
    )
    rejection = decode(raw, InputLimits(MAX_PAYLOAD))
    assert isinstance(rejection, Rejection)
    assert rejection.code == hostile.reason, rejection.message


def generated(count: int) -> list[Hostile]:
    """`count` hostile messages drawn by Hypothesis (generation only: a live service is
    checked on the whole lot at once, so there is nothing to shrink)."""
    drawn: list[Hostile] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_messages)
    def collect(hostile: Hostile) -> None:
        drawn.append(hostile)

    collect()
    return drawn


def good_event(number: int) -> Message:
    event = {
        "id": f"good-{number}",
        "type": "user_login",
        "actorId": "user-1",
        "timestamp": 1_763_900_000_000 + number,
        "metadata": {"n": number},
    }
    return Message(
        f"one.v1.{TENANT}.events.user_login", json.dumps(event).encode(), f"good-{number}"
    )


@pytest.mark.timeout(300)
async def test_the_service_dead_letters_generated_hostile_input_and_stores_the_rest(
    own_servers: EmbeddedServers,
) -> None:
    hostile = generated(300)
    messages: list[Message] = []
    for number, bad in enumerate(hostile):
        messages.append(good_event(number))
        subject = f"one.v1.{TENANT}.{bad.suffix}"
        messages.append(Message(subject, bad.data, f"bad-{number}", bad.headers, bad.reason))
    messages.append(good_event(len(hostile)))
    async with Scenario(
        f"{len(hostile)} generated hostile messages (Hypothesis)",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        ingest = await scenario.start_ingest()
        publisher = scenario.publisher()
        await publisher.publish(messages)
        comparison = await scenario.settle(publisher)
        # The same process throughout, and the last good message (after every hostile
        # one) is stored: the exact comparison below includes it.
        assert ingest.running, ingest.log_tail()
    assert comparison.exact, comparison.explain()
    assert len(comparison.dead_letters) == len(hostile)
