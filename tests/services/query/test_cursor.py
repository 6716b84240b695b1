"""Cursors are opaque, bound to their query, and never crash the decoder."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.queries import EntitiesList, EventsList
from services.query.cursor import (
    InvalidCursorError,
    cursor_scope,
    decode_cursor,
    encode_cursor,
)
from services.store.port import Keyset

SCOPE = cursor_scope("events.list", "acme", EventsList(actorId="u1"))


def _forge(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def test_a_cursor_round_trips_its_position() -> None:
    position = Keyset(1_700_000_000_000, "acme:evt-1")
    token = encode_cursor(position, SCOPE)
    assert decode_cursor(token, scope=SCOPE, tenant="acme", sort_type=int) == position


def test_a_text_position_round_trips() -> None:
    position = Keyset("color", "acme:0af3")
    token = encode_cursor(position, SCOPE)
    assert decode_cursor(token, scope=SCOPE, tenant="acme", sort_type=str) == position


def test_a_cursor_is_urlsafe_and_unpadded() -> None:
    token = encode_cursor(Keyset(1, "acme:x"), SCOPE)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_scope_ignores_page_size_but_not_filters() -> None:
    base = cursor_scope("entities.list", "acme", EntitiesList(type="creator"))
    assert base == cursor_scope("entities.list", "acme", EntitiesList(type="creator", limit=5))
    assert base != cursor_scope("entities.list", "acme", EntitiesList(type="video"))
    assert base != cursor_scope("entities.list", "other", EntitiesList(type="creator"))
    assert base != cursor_scope("events.list", "acme", EntitiesList(type="creator"))


def test_a_cursor_from_other_filters_is_refused() -> None:
    token = encode_cursor(Keyset(1, "acme:x"), SCOPE)
    other = cursor_scope("events.list", "acme", EventsList(actorId="u2"))
    with pytest.raises(InvalidCursorError, match="another query"):
        decode_cursor(token, scope=other, tenant="acme", sort_type=int)


def test_a_cursor_naming_another_tenants_record_is_refused() -> None:
    token = _forge({"v": 1, "s": SCOPE, "k": 1, "i": "globex:x"})
    with pytest.raises(InvalidCursorError, match="another tenant"):
        decode_cursor(token, scope=SCOPE, tenant="acme", sort_type=int)


@pytest.mark.parametrize(
    "body",
    [
        {"v": 1, "s": SCOPE, "k": "1", "i": "acme:x"},  # text where a time belongs
        {"v": 1, "s": SCOPE, "k": -1, "i": "acme:x"},
        {"v": 1, "s": SCOPE, "k": 2**63, "i": "acme:x"},
        {"v": 1, "s": SCOPE, "k": 1.5, "i": "acme:x"},
        {"v": 1, "s": SCOPE, "k": True, "i": "acme:x"},
        {"v": 1, "s": SCOPE, "k": {"$gt": 0}, "i": "acme:x"},
        {"v": 1, "s": SCOPE, "k": 1, "i": {"$gt": ""}},
        {"v": 1, "s": SCOPE, "k": 1, "i": "acme:x", "extra": 1},
        {"v": 2, "s": SCOPE, "k": 1, "i": "acme:x"},
        {"s": SCOPE, "k": 1, "i": "acme:x"},
        [1, "acme:x"],
        "acme:x",
        None,
    ],
    ids=repr,
)
def test_a_forged_cursor_is_refused(body: object) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(_forge(body), scope=SCOPE, tenant="acme", sort_type=int)


@pytest.mark.parametrize("token", ["", "!!!", "a", "=" * 8, "eyJ2IjoxfQ", "____", "\x00"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(token, scope=SCOPE, tenant="acme", sort_type=int)


@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: _forge(b.hex())))
def test_no_input_crashes_the_decoder(token: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(token, scope=SCOPE, tenant="acme", sort_type=int)
