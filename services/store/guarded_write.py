"""An upsert guarded by its filter, and how to settle a duplicate key on it.

Every write the store makes is an upsert whose filter says when it may apply (the
stored version is not newer, the document is a tombstone, ...). When the filter misses,
the upsert tries to insert and collides on `_id`. That duplicate key means one of two
things: a newer version is stored (the write is stale), or a concurrent writer inserted
the document between our read and our insert (a race between replicas). Retrying once
without upsert tells them apart: the document exists now, so the guard alone decides.

Most writes find no document (a new event, entity, connection or tag), so an operation
may also carry the document its upsert would create: the writer inserts those first,
with a plain insert, and only the ones that collide on `_id` go through the guarded
upsert. The outcome is the same (a missing document is created as the upsert would
create it; an existing one is left to the guard), and SecantusDB executes an insert
about 2.5 times as fast as an upsert that inserts (docs/benchmarks.md).

The filters and updates are MongoDB's operators; the MongoDB adapter sends them as they
are (services/store/mongodb/guarded_ops.py).
"""

from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class GuardedWrite:
    filter: Document
    # Exactly one of: update operators, or a whole replacement document.
    update: Document | None = None
    replacement: Document | None = None
    # False for an update of a document that must already exist (never inserts).
    upsert: bool = True
    # Exactly what the upsert creates when no document has this `_id`, if worth inserting
    # plainly first (the module docstring says why).
    insert: Document | None = None
