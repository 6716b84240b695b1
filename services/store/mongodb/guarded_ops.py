"""A guarded write (services/store/guarded_write.py) as PyMongo operations."""

from typing import Any

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from services.store.guarded_write import GuardedWrite

Document = dict[str, Any]


def bulk_op(write: GuardedWrite) -> UpdateOne | ReplaceOne:  # type: ignore[type-arg]
    if write.replacement is not None:
        return ReplaceOne(write.filter, write.replacement, upsert=write.upsert)
    assert write.update is not None
    return UpdateOne(write.filter, write.update, upsert=write.upsert)


async def apply_to_existing(write: GuardedWrite, collection: AsyncCollection[Document]) -> bool:
    """Apply without upsert; True if the guard let it through."""
    if write.replacement is not None:
        result = await collection.replace_one(write.filter, write.replacement)
    else:
        assert write.update is not None
        result = await collection.update_one(write.filter, write.update)
    return result.matched_count == 1
