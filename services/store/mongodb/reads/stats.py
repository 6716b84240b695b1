"""Counts of a tenant's records per value of one field (`stats.counts`)."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.queries import GROUP_BY_FIELDS
from services.store.mongodb.reads.entities import LIVE

Document = dict[str, Any]


async def count_by(
    database: AsyncDatabase[Document],
    tenant: str,
    collection: str,
    group_by: str,
    *,
    include_deleted: bool = False,
) -> list[Document]:
    """`[{value, count}]`, most frequent first. A tenant-wide scan of the `groupId` index."""
    # The field name becomes a `$field` path: only the contract's fields ever get here.
    if group_by not in GROUP_BY_FIELDS.get(collection, ()):
        raise ValueError(f"{collection} cannot be grouped by {group_by!r}")
    pipeline: list[Document] = [{"$match": {"groupId": tenant}}]
    if not include_deleted:
        pipeline.append({"$match": LIVE})
    pipeline += [
        {"$group": {"_id": f"${group_by}", "count": {"$sum": 1}}},
        {"$sort": {"count": -1, "_id": 1}},
    ]
    cursor = await database[collection].aggregate(pipeline)
    return [{"value": row["_id"], "count": row["count"]} async for row in cursor]
