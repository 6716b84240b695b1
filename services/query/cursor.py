"""The opaque `cursor` of list queries: a keyset position, bound to the query it came from.

A cursor is urlsafe base64 of a small JSON object `{v, s, k, i}`: version, scope (a hash of
the query name, tenant and filters), the last item's sort value and `_id`. It is not
signed: a forged position can only move the start of a page within the same tenant-scoped,
filtered range. Decoding is strict, and anything that is not a cursor this service made
for this very query is `InvalidCursorError` (an `invalid_request`), never an exception.
"""

import base64
import binascii
import hashlib
import json
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.commands import MAX_EPOCH_MS
from contracts.queries import Query
from services.store.port import Keyset

VERSION: Final = 1
MAX_SORT_TEXT: Final = 1024
MAX_ID_LENGTH: Final = 256


class InvalidCursorError(ValueError):
    pass


class _CursorBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Literal[1]
    s: str = Field(max_length=64)
    k: int | str
    i: str = Field(min_length=1, max_length=MAX_ID_LENGTH)


def cursor_scope(name: str, tenant: str, request: Query) -> str:
    """What a cursor is valid for: the same query, tenant and filters (any `limit`, any
    `after`: a read-your-writes token says when to read, not what)."""
    filters = request.model_dump(mode="json", exclude={"limit", "cursor", "after"})
    material = json.dumps([name, tenant, filters], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def encode_cursor(position: Keyset, scope: str) -> str:
    body = _CursorBody(v=VERSION, s=scope, k=position.value, i=position.last_id)
    raw = body.model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    token: str, *, scope: str, tenant: str, sort_type: type[int] | type[str]
) -> Keyset:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = _CursorBody.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as error:
        raise InvalidCursorError("cursor is not one this service issued") from error
    if body.s != scope:
        raise InvalidCursorError("cursor belongs to another query or other filters")
    if not body.i.startswith(f"{tenant}:"):
        raise InvalidCursorError("cursor belongs to another tenant")
    value = body.k
    if sort_type is int:
        if not isinstance(value, int) or not 0 <= value <= MAX_EPOCH_MS:
            raise InvalidCursorError("cursor position is not a time")
    elif not isinstance(value, str) or len(value) > MAX_SORT_TEXT:
        raise InvalidCursorError("cursor position is not text")
    return Keyset(value, body.i)
