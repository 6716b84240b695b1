"""A change that landed in the store and is to be published on the `changes` subjects."""

from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from contracts.ontology import Collection
from contracts.records import ChangeOp
from contracts.subjects import change_subject
from services.store.keys import to_record


@dataclass(frozen=True, slots=True)
class StoredChange:
    tenant: str
    collection: Collection
    type_token: str
    op: ChangeOp
    document: dict[str, Any]
    # Deterministic per applied write, so a replayed batch republishes under the same
    # Nats-Msg-Id and JetStream drops the duplicate.
    msg_id: str

    @classmethod
    def of(
        cls,
        collection: Collection,
        type_token: str,
        op: ChangeOp,
        document: dict[str, Any],
        version: object = "",
    ) -> "StoredChange":
        """The change a write of `document` makes; `version` tells apart writes of one record."""
        msg_id = f"{collection}:{document['_id']}:{op}:{version}"
        return cls(document["groupId"], collection, type_token, op, document, msg_id)

    @property
    def subject(self) -> str:
        return change_subject(self.tenant, self.collection, self.type_token)

    def payload(self) -> bytes:
        """The change as `Change` (contracts/records.py) serializes it, without building
        the model: the fields are typed already, and validating them again cost more
        than half of each change's encoding."""
        return to_json(
            {"collection": self.collection, "op": self.op, "record": to_record(self.document)}
        )
