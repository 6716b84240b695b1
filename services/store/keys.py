"""The one place that turns (tenant, publisher id) into MongoDB `_id`s and back.

See docs/storage.md: `_id` is tenant-qualified so two tenants never share a record.
"""

import hashlib
import json
from typing import Any, Final


def document_id(group_id: str, record_id: str) -> str:
    """The `_id` of a record's document: tenant-qualified, unlike the publisher's `id`."""
    return f"{group_id}:{record_id}"


def tag_key(group_id: str, entity_id: str, key: str, value: str) -> str:
    digest = hashlib.sha256(json.dumps([entity_id, key, value]).encode()).hexdigest()
    return f"{group_id}:{digest}"


def to_record(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document as users see it: no `_id` and no internal fields."""
    return {k: v for k, v in document.items() if k not in _INTERNAL_FIELDS}


NAME_TERMS: Final = "nameTerms"
"""Internal multikey field of entities: the folded words of `name` (contracts.search_terms)."""

# Entities keep the versions their parts came from (entity_fold.MERGE_FIELDS).
_INTERNAL_FIELDS = frozenset(
    {"_id", "seq", "createSeq", "refs", "version", "first", "firstOp", "contentVersion"}
    | {"deleteVersion", "archiveVersion", "rev"}
    # The words of an entity's name, for entities.search.
    | {NAME_TERMS}
)
