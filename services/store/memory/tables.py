"""What the in-memory store holds: per collection, documents by `_id`, as MongoDB would."""

import asyncio

from contracts.ontology import Collection
from services.store.errors import StoreTimeoutError
from services.store.port import Document

Tables = dict[Collection, dict[str, Document]]


def empty_tables() -> Tables:
    return {"entities": {}, "connections": {}, "events": {}, "tags": {}}


def check_deadline(deadline: float) -> None:
    """As the MongoDB adapter: a read asked for after its deadline is a store timeout."""
    if deadline <= asyncio.get_running_loop().time():
        raise StoreTimeoutError("the deadline passed before the store was asked")
