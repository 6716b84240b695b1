"""Property: anything in → stored or dead-lettered within a bounded time, others unaffected.

Hypothesis draws messages of any bytes (up to NATS's max payload), any headers (values up
to JetStream's 64 KiB header limit) and any subject the ingest stream takes, each between
two good events, and a live `one-bus serve` on servers of its own gets them all. Whatever
JetStream accepted must then be, once the consumer has drained: stored if it is valid, or
one dead letter (within the max payload) with the reason decoding gives it; every good
event stored; the same process still running.
"""

import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from nats.errors import Error as NatsError

from contracts.subjects import INGEST_KINDS, PREFIX
from services.ingest.decode import decode
from services.ingest.input_limits import InputLimits, header_bytes
from services.ingest.raw_message import RawMessage
from services.ingest.rejection import Rejection
from services.runtime.embedded import EmbeddedServers
from services.settings import Settings
from tests.faults.checker import read_stream
from tests.faults.scenario import Scenario
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

NATS_MAX_PAYLOAD = 1024 * 1024
TENANT = "acme"

tokens = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
subjects = st.builds(
    lambda tenant, kind, rest: ".".join([PREFIX, tenant, kind, *rest]),
    st.one_of(st.just(TENANT), tokens),
    st.sampled_from(INGEST_KINDS),
    st.lists(st.one_of(tokens, st.sampled_from(["creator", "upsert", "owns", "set"])), max_size=3),
)
header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True).filter(
    lambda name: not name.lower().startswith("nats-")
)
header_values = st.one_of(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=64),
    st.integers(0, 70_000).map(lambda n: "v" * n),
    st.sampled_from(["agent-1", "9" * 5000, "1763900000000"]),
)
headers = st.dictionaries(
    st.one_of(header_names, st.sampled_from(["One-Actor-Id", "One-Timestamp"])),
    header_values,
    max_size=4,
)
bodies = st.one_of(
    st.binary(max_size=512),
    st.integers(0, NATS_MAX_PAYLOAD).map(lambda n: b"x" * n),
    st.integers(NATS_MAX_PAYLOAD - 4096, NATS_MAX_PAYLOAD - 64).map(lambda n: b"{" * n),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
)
anything = st.tuples(subjects, bodies, headers)


def drawn(count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    found: list[tuple[str, bytes, dict[str, str]]] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(anything)
    def collect(message: tuple[str, bytes, dict[str, str]]) -> None:
        found.append(message)

    collect()
    return found


def good_event(number: int) -> tuple[str, bytes]:
    event = {
        "id": f"good-{number}",
        "type": "user_login",
        "actorId": "user-1",
        "timestamp": 1_763_900_000_000 + number,
        "metadata": {"n": number},
    }
    return f"{PREFIX}.{TENANT}.events.user_login", json.dumps(event).encode()


async def test_anything_published_is_stored_or_dead_lettered_and_good_messages_go_through(
    own_servers: EmbeddedServers,
) -> None:
    arbitrary = drawn(150)
    async with Scenario(
        f"{len(arbitrary)} arbitrary messages (any bytes, headers, sizes)",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        ingest = await scenario.start_ingest()
        js = scenario.js
        accepted: set[int] = set()
        for number, (subject, data, extra) in enumerate(arbitrary):
            await js.publish(*good_event(number), headers={"Nats-Msg-Id": f"good-{number}"})
            extra = {**extra, "Nats-Msg-Id": f"any-{number}"}
            if len(data) + header_bytes(extra) + 64 > NATS_MAX_PAYLOAD:
                continue  # nats-server would close the publisher's own connection
            try:
                ack = await js.publish(subject, data, headers=extra)
            except (NatsError, TimeoutError):
                continue  # refused by NATS itself (over its limits): never the service's
            accepted.add(ack.seq)
        await js.publish(*good_event(len(arbitrary)), headers={"Nats-Msg-Id": "good-last"})

        state = await eventually(
            scenario.consumer_state,
            lambda s: s[1] == 0 and s[2] == 0 and s[0] > max(accepted, default=0),
            timeout_s=120,
            interval_s=0.25,
        )
        assert state[1:] == (0, 0), f"not drained within 120 s: {state}"
        assert ingest.running, ingest.log_tail()

        limits = InputLimits(Settings().max_payload_bytes)
        expected: dict[int, str] = {}
        for message in await read_stream(js, scenario.settings.ingest_stream, f"{PREFIX}.>"):
            if message.seq in accepted:
                raw = RawMessage(
                    message.subject, message.data, message.seq, message.received_ms,
                    message.headers,
                )  # fmt: skip
                outcome = decode(raw, limits)
                if isinstance(outcome, Rejection):
                    expected[message.seq] = outcome.code

        async def letters() -> dict[int, str]:
            found = await scenario.dead_letters()
            assert all(len(m.data) + header_bytes(m.headers) < NATS_MAX_PAYLOAD for m in found)
            return {
                int(m.headers["One-Dlq-Stream-Seq"]): m.headers["One-Dlq-Reason"] for m in found
            }

        assert await eventually(letters, lambda found: found == expected) == expected
        goods = await scenario.database["events"].count_documents({"id": {"$regex": "^good-"}})
        assert goods == len(arbitrary) + 1
    assert len(accepted) > len(arbitrary) // 2
    assert len(expected) > 0
