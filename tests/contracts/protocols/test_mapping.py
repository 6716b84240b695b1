"""map_protocol_message and validate_protocol_payload across protocols."""

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.metadata_rules import KNOWN_PROTOCOLS, check_event_metadata
from contracts.protocols import (
    ProtocolMapping,
    ProtocolMessageError,
    known_message_types,
    map_protocol_message,
    validate_protocol_payload,
)
from contracts.protocols.mapping import PROTOCOL_HANDLERS
from contracts.subjects import TOKEN_RE
from tests.contracts.protocols.sample_files import load
from tests.contracts.protocols.specified import GOOD_SAMPLES, SPECIFIED

SAMPLES: list[tuple[str, str, str]] = [
    (protocol, name, expected.message_type) for protocol, name, expected in GOOD_SAMPLES
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def test_the_known_protocols_are_the_ontologys() -> None:
    assert tuple(PROTOCOL_HANDLERS) == KNOWN_PROTOCOLS


@pytest.mark.parametrize("protocol", KNOWN_PROTOCOLS)
def test_every_known_message_type_is_a_subject_token(protocol: str) -> None:
    types = known_message_types(protocol)
    assert types
    assert all(TOKEN_RE.fullmatch(message_type) for message_type in types)


@pytest.mark.parametrize("protocol", KNOWN_PROTOCOLS)
def test_both_wire_versions_are_sampled(protocol: str) -> None:
    # Sample names start with the wire version; AG-UI has one event vocabulary.
    versions = {name.split("_")[0] for name in SPECIFIED[protocol][0]}
    expected = {
        "a2a": {"v1", "v03"},
        "acp": {"v20260417", "v20250929"},
        "ap2": {"v02", "v01"},
        "x402": {"v2", "v1"},
    }.get(protocol)
    if expected is not None:
        assert expected <= versions
    assert len(SPECIFIED[protocol][0]) >= 4


def test_an_unknown_protocol_is_stored_as_is() -> None:
    payload = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "search"}}
    mapping = map_protocol_message("MCP", "tools-call", payload)
    assert mapping.validated is False
    assert mapping.protocol == "mcp"
    assert mapping.event_type == "communication_event"
    assert mapping.metadata == {"protocol": "mcp", "messageType": "tools-call", "payload": payload}
    assert mapping.connection is not None
    assert mapping.connection.relationship_type == "communicated"
    assert validate_protocol_payload("mcp", "tools-call", payload) == payload


def test_protocol_names_are_compared_in_lower_case() -> None:
    payload = load("a2a", "v1_message_user.json")
    assert map_protocol_message("A2A", "Message", payload).protocol == "a2a"


def test_an_unknown_message_type_of_a_known_protocol_names_the_known_ones() -> None:
    with pytest.raises(ProtocolMessageError) as caught:
        map_protocol_message("x402", "PaymentReceipt", {})
    message = str(caught.value)
    assert "'PaymentReceipt' is not a known x402 message type" in message
    for known in ("PaymentRequired", "PaymentPayload", "VerifyResponse", "SettleResponse"):
        assert known in message


@pytest.mark.parametrize("protocol", ["", "-a2a", "a" * 65, "a2a.v1!"])
def test_a_malformed_protocol_name_is_rejected(protocol: str) -> None:
    with pytest.raises(ProtocolMessageError, match="is not a protocol name"):
        map_protocol_message(protocol, "Message", {})


@pytest.mark.parametrize("message_type", ["", "a.b", "message/send", "x" * 129, "a b"])
def test_a_message_type_must_be_one_subject_token(message_type: str) -> None:
    with pytest.raises(ProtocolMessageError, match="is not one subject token"):
        map_protocol_message("custom", message_type, {})


@pytest.mark.parametrize("payload", [[], "text", 3, None])
def test_the_body_must_be_a_json_object(payload: Any) -> None:
    with pytest.raises(ProtocolMessageError, match="must be a JSON object"):
        map_protocol_message("custom", "ping", payload)
    with pytest.raises(ProtocolMessageError, match="must be a JSON object"):
        validate_protocol_payload("a2a", "Message", payload)


def test_a_body_the_store_cannot_hold_is_rejected_even_for_an_unknown_protocol() -> None:
    with pytest.raises(ProtocolMessageError, match="starts with '\\$'"):
        map_protocol_message("custom", "ping", {"query": {"$gt": 1}})


@pytest.mark.parametrize(("protocol", "name", "message_type"), SAMPLES)
def test_a_direct_publish_validates_its_payload_with_the_same_models(
    protocol: str, name: str, message_type: str
) -> None:
    payload = load(protocol, name)
    stored = validate_protocol_payload(protocol, message_type, payload)
    assert stored == map_protocol_message(protocol, message_type, payload).metadata["payload"]


def test_a_direct_publish_with_a_malformed_payload_is_refused() -> None:
    payload = load("ap2", "malformed/v02_payment_receipt_bad_status.json")
    with pytest.raises(ProtocolMessageError, match="not a valid ap2 PaymentReceipt"):
        validate_protocol_payload("ap2", "PaymentReceipt", payload)


def test_mapping_does_not_change_the_publishers_message() -> None:
    payload = load("acp", "v20260417_delegate_payment.json")
    before = copy.deepcopy(payload)
    map_protocol_message("acp", "delegate_payment", payload)
    assert payload == before


def _accepted_or_refused(protocol: str, message_type: str, payload: Any) -> None:
    """The property: a mapping the ontology accepts, or a ValueError; nothing else."""
    try:
        mapping = map_protocol_message(protocol, message_type, payload)
    except ProtocolMessageError:
        return
    assert isinstance(mapping, ProtocolMapping)
    check_event_metadata(mapping.event_type, mapping.metadata)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    protocol=st.sampled_from(KNOWN_PROTOCOLS),
    data=st.data(),
    payload=json_objects,
)
def test_any_json_object_on_a_known_type_is_mapped_or_refused(
    protocol: str, data: st.DataObject, payload: dict[str, Any]
) -> None:
    message_type = data.draw(st.sampled_from(known_message_types(protocol)))
    _accepted_or_refused(protocol, message_type, payload)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _paths(item, (*prefix, index))
    return paths


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_any_corruption_of_a_good_sample_is_mapped_or_refused(
    sample: tuple[str, str, str], data: st.DataObject
) -> None:
    protocol, name, message_type = sample
    payload = load(protocol, name)
    path = data.draw(st.sampled_from(_paths(payload)))
    parent: Any = payload
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    _accepted_or_refused(protocol, message_type, payload)


def _storable(value: Any) -> bool:
    """No field name MongoDB refuses (contracts.json_values)."""
    if isinstance(value, dict):
        return all(
            not key.startswith("$") and "\x00" not in key and _storable(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


@settings(max_examples=100)
@given(
    protocol=st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True).filter(
        lambda name: name not in KNOWN_PROTOCOLS
    ),
    message_type=st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True),
    payload=json_objects,
)
def test_any_storable_object_in_an_unknown_protocol_is_a_communication_event(
    protocol: str, message_type: str, payload: dict[str, Any]
) -> None:
    if not _storable(payload):
        with pytest.raises(ProtocolMessageError, match="cannot be stored"):
            map_protocol_message(protocol, message_type, payload)
        return
    mapping = map_protocol_message(protocol, message_type, payload)
    assert mapping.event_type == "communication_event"
    assert mapping.metadata["payload"] == payload
