"""Query requests and replies on `one.v1.<tenant>.query.<name>` (docs/queries.md).

Requests are strict pydantic models: unknown fields are refused, a string never stands in
for a number, and every caller value has a fixed scalar type. That is what keeps caller
input from ever reaching MongoDB as an operator: `{"id": {"$gt": ""}}` is simply not a
string, so it is an `invalid_request` before any query is built.

Replies are `{"ok": true, "data": ...}`; `data` has the shapes below. Records carry `id`
and `groupId`, never MongoDB's `_id`.

Each query is stated once, in its spec at the end (`QUERY_SPECS`): its name, models, and
for a watchable one its filter as a pure predicate and its order (docs/queries.md,
"Adding a query").
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from contracts.commands import EpochMs, RecordId, TagKey, TagValue
from contracts.matching import Order, Record, all_equal, live, within
from contracts.ontology import Collection, ConnectionType, EntityStatus, EntityType, EventType
from contracts.records import ConnectionRecord, EntityRecord, EventRecord, TagRecord
from contracts.schema_rules import (
    Schema,
    add_rules,
    at_least_one_of,
    describe,
    exactly_one_of,
    needs,
    when_equal,
)
from contracts.search_terms import MAX_QUERY_TERMS, search_terms

MAX_LIMIT: Final = 500
MAX_SEARCH_LIMIT: Final = 100
MAX_SEARCH_TEXT: Final = 256
"""The contract's bound on `limit`; a deployment may lower it (settings.query_max_limit)."""
MAX_IDS: Final = 100
MAX_METADATA_FILTERS: Final = 16
MAX_CURSOR_LENGTH: Final = 1024
MAX_GRAPH_DEPTH: Final = 3
MAX_INT64: Final = 2**63 - 1


def _no_surrogates(value: str) -> str:
    # A lone UTF-16 surrogate (legal in JSON's \uXXXX) cannot be encoded to BSON.
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("string contains a lone UTF-16 surrogate")
    return value


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_CURSOR_LENGTH, pattern=r"^[A-Za-z0-9_-]+=*$"),
    Field(
        description="The `nextCursor` of the previous page. Checked by the service, beyond this"
        " schema: it is one the same query issued, for this tenant and the same filters."
    ),
]
"""Opaque: pass back the `nextCursor` of the previous page, with the same filters."""
Protocol = Annotated[
    str, StringConstraints(to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
]
"""A protocol name, compared in lower case as ingest stores it (metadata_rules.ProtocolName)."""
MessageType = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_no_surrogates)
]
"""A protocol message type, as stored in `metadata.messageType` (`SendMessageRequest`)."""
MetadataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MetadataScalar = (
    bool
    | Annotated[int, Field(ge=-MAX_INT64 - 1, le=MAX_INT64)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[str, StringConstraints(max_length=1024), AfterValidator(_no_surrogates)]
)
"""An equality value on one metadata key: never an object or array, so never an operator."""
TagKeyText = Annotated[TagKey, AfterValidator(_no_surrogates)]
TagValueText = Annotated[TagValue, AfterValidator(_no_surrogates)]


def _given(model: BaseModel, field: str) -> bool:
    return getattr(model, field) is not None


AfterSeq = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_INT64,
        description="Read-your-writes: an ingest stream sequence (a PubAck's `seq`, or a"
        " write outcome's). The answer (a watch's first result) waits until every write of"
        " the tenant up to it is stored or dead-lettered, within the request's deadline,"
        " and past that is the `timeout` error with `details: {after, reached}`. Without"
        " it, the answer is what is stored now.",
    ),
]
"""An ingest stream sequence (a PubAck's or an outcome's `seq`): read-your-writes."""


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Every query and watch: answer only once every write of the tenant up to this
    # sequence is stored or dead-lettered, waiting within the request's deadline
    # (`timeout` past it). Without it, the answer is what is stored now.
    after: AfterSeq | None = None


class ListQuery(Query):
    """A keyset-paged list: `limit` bounds a page, `cursor` (a reply's `nextCursor`) goes on."""

    limit: Limit | None = None
    cursor: Cursor | None = None


GET_FORMS: Final = ("id", "ids")


def _one_get_form(schema: Schema) -> None:
    add_rules(schema, exactly_one_of(*GET_FORMS))


class EntitiesGet(Query):
    """`{id, type?}` → the entity (or not_found); `{ids}` → `{items}` of those that exist.

    With `type`, an entity of another type counts as not found (the seed's getCreator).
    """

    model_config = ConfigDict(json_schema_extra=_one_get_form)

    id: RecordId | None = None
    ids: Annotated[list[RecordId], Field(min_length=1, max_length=MAX_IDS)] | None = None
    type: EntityType | None = None
    includeDeleted: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if sum(_given(self, field) for field in GET_FORMS) != 1:
            raise ValueError("give exactly one of `id` or `ids`")
        return self


ScalarFilters = Annotated[
    dict[MetadataKey, MetadataScalar],
    # The keys' pattern becomes `patternProperties`; without this, a key outside it
    # (`$where`, `a.b`) would pass the schema while the model refuses it.
    Field(max_length=MAX_METADATA_FILTERS, json_schema_extra={"additionalProperties": False}),
]
"""A flat map of equality filters on one object's keys: `{"status": "processed"}`."""


class EntitiesList(ListQuery):
    """Newest first: sorted by `orderBy` (default `createdAt`) descending, then by id.

    `createdAfter`/`updatedAfter` are exclusive lower bounds, `createdBefore` an exclusive
    upper bound. `properties` is a flat map of equality filters on property keys
    (`{"level": "beginner"}`), like `metadata` in `events.list`.
    """

    type: EntityType | None = None
    status: EntityStatus | None = None
    createdAfter: EpochMs | None = None
    createdBefore: EpochMs | None = None
    updatedAfter: EpochMs | None = None
    properties: ScalarFilters | None = None
    orderBy: Literal["createdAt", "updatedAt"] = "createdAt"
    includeDeleted: bool = False


CONNECTION_ANCHORS: Final = ("fromEntityId", "toEntityId")


def _anchored(schema: Schema) -> None:
    add_rules(schema, at_least_one_of(*CONNECTION_ANCHORS))


class ConnectionsList(ListQuery):
    """Connections from and/or to an entity, newest first (`createdAt` desc, then id).

    `protocol` matches `metadata.protocol`, `messageType` matches `metadata.messageType`.
    With `withEntities`, each item also carries `fromEntity` and `toEntity`: null where
    that entity has not arrived (or is deleted).
    """

    model_config = ConfigDict(json_schema_extra=_anchored)

    fromEntityId: RecordId | None = None
    toEntityId: RecordId | None = None
    relationshipType: ConnectionType | None = None
    protocol: Protocol | None = None
    messageType: MessageType | None = None
    withEntities: bool = False
    includeDeleted: bool = False

    @model_validator(mode="after")
    def _anchored(self) -> Self:
        if not any(_given(self, field) for field in CONNECTION_ANCHORS):
            raise ValueError("give `fromEntityId`, `toEntityId` or both")
        return self


class EventsList(ListQuery):
    """Events, newest first (`timestamp` desc, then id).

    `since` is inclusive, `until` exclusive. `metadata` is a flat map of equality filters
    on metadata keys: `{"status": "processed", "protocol": "ap2"}`.
    """

    actorId: RecordId | None = None
    targetId: RecordId | None = None
    type: EventType | None = None
    since: EpochMs | None = None
    until: EpochMs | None = None
    metadata: ScalarFilters | None = None

    @model_validator(mode="after")
    def _protocol_in_lower_case(self) -> Self:
        # Ingest stores protocol names in lower case; "A2A" must find them too.
        protocol = (self.metadata or {}).get("protocol")
        if isinstance(protocol, str):
            object.__setattr__(
                self, "metadata", {**(self.metadata or {}), "protocol": protocol.lower()}
            )
        return self


TAG_FORMS: Final = ("entityId", "key")
TAG_VALUE_NEEDS: Final = ("value", "key")


def _one_tag_form(schema: Schema) -> None:
    add_rules(schema, exactly_one_of(*TAG_FORMS), needs(*TAG_VALUE_NEEDS))


class TagsList(ListQuery):
    """`{entityId}` → that entity's tags by key; `{key, value?}` → tags by entity id."""

    model_config = ConfigDict(json_schema_extra=_one_tag_form)

    entityId: RecordId | None = None
    key: TagKeyText | None = None
    value: TagValueText | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if sum(_given(self, field) for field in TAG_FORMS) != 1:
            raise ValueError("give exactly one of `entityId` or `key`")
        value, key = TAG_VALUE_NEEDS
        if _given(self, value) and not _given(self, key):
            raise ValueError("`value` needs `key`")
        return self


SearchText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_SEARCH_TEXT),
    AfterValidator(_no_surrogates),
]


def _search_words(schema: Schema) -> None:
    describe(
        schema,
        "Checked by the service, beyond this schema: `text` has at least one letter or"
        f" digit, at most {MAX_QUERY_TERMS} words, and no lone UTF-16 surrogate.",
    )


class EntitiesSearch(Query):
    """Live entities whose name has every word of `text`, each as a whole word or a prefix.

    Case and accents do not matter (contracts.search_terms). Ranked: the entities where
    more words of `text` match whole words come first, then the newest (`createdAt`).
    """

    model_config = ConfigDict(json_schema_extra=_search_words)

    text: SearchText
    type: EntityType | None = None
    status: EntityStatus | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_SEARCH_LIMIT)] | None = None

    @property
    def terms(self) -> list[str]:
        """The folded words of `text`: what the search matches."""
        return search_terms(self.text, max_terms=MAX_QUERY_TERMS)

    @model_validator(mode="after")
    def _has_words(self) -> Self:
        found = search_terms(self.text, max_terms=MAX_QUERY_TERMS + 1)
        if not found:
            raise ValueError("`text` has no letters or digits to search for")
        if len(found) > MAX_QUERY_TERMS:
            raise ValueError(f"`text` may have at most {MAX_QUERY_TERMS} words")
        return self


RelationshipTypes = Annotated[list[ConnectionType], Field(min_length=1, max_length=64)]


class GraphTraverse(Query):
    """Breadth-first walk over connections from `startId`, at most `depth` hops.

    `limit` bounds the edges returned; `truncated` says the walk stopped there.
    """

    startId: RecordId
    direction: Literal["out", "in", "both"]
    relationshipTypes: RelationshipTypes | None = None
    depth: Annotated[int, Field(ge=1, le=MAX_GRAPH_DEPTH)]
    limit: Limit | None = None


GROUP_BY_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "entities": ("type", "status"),
    "connections": ("relationshipType",),
    "events": ("type",),
    "tags": ("key",),
}
"""The fields `stats.counts` may group each collection by."""


def _groupings(schema: Schema) -> None:
    add_rules(
        schema,
        *(
            when_equal(
                "collection", collection, {"properties": {"groupBy": {"enum": list(allowed)}}}
            )
            for collection, allowed in GROUP_BY_FIELDS.items()
        ),
    )


class StatsCounts(Query):
    """How many live records a tenant has, per value of `groupBy`."""

    model_config = ConfigDict(json_schema_extra=_groupings)

    collection: Collection
    groupBy: Annotated[
        str,
        Field(
            json_schema_extra={"enum": sorted({f for fs in GROUP_BY_FIELDS.values() for f in fs})}
        ),
    ]
    includeDeleted: bool = False

    @model_validator(mode="after")
    def _known_field(self) -> Self:
        allowed = GROUP_BY_FIELDS[self.collection]
        if self.groupBy not in allowed:
            raise ValueError(f"{self.collection} can be grouped by {', '.join(allowed)}")
        return self


# Replies. Record models ignore fields they do not know, so new stored fields do not break
# older clients.

ItemT = TypeVar("ItemT")
DataT = TypeVar("DataT")


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


class Items(_Reply, Generic[ItemT]):
    items: list[ItemT]


class Page(_Reply, Generic[ItemT]):
    items: list[ItemT]
    # None on the last page.
    nextCursor: str | None


class ConnectionItem(ConnectionRecord):
    fromEntity: EntityRecord | None = None
    toEntity: EntityRecord | None = None


class Graph(_Reply):
    nodes: list[EntityRecord]
    edges: list[ConnectionRecord]
    truncated: bool


class Count(_Reply):
    # None counts the records that lack the field (an entity without `status`).
    value: str | None
    count: int


class Counts(_Reply):
    counts: list[Count]


class OkReply(_Reply, Generic[DataT]):
    ok: Literal[True]
    data: DataT


# Specs: each query's name, request and reply models, and what watching it needs, stated
# once. Routes, micro endpoints, schemas, AsyncAPI, the SDK and the watch matcher derive
# from `QUERY_SPECS`; a query's handler is bound to its spec where it is written
# (services/query/handlers/).

Q = TypeVar("Q", bound=Query)


def _no_embeds(_request: Any) -> Sequence[tuple[Collection, str]]:
    return ()


@dataclass(frozen=True, slots=True)
class Watching(Generic[Q]):
    """What a watch of the query needs, and the in-memory store answers it with.

    `matches` is the query's filter as a predicate over a record (the tenant aside): true
    exactly for the records the store's own filter returns (the store port's suite holds
    both stores to it). `order` is the sort of a keyset list (None: not one). `pins` are
    the equalities a watch is indexed under (None: the first of its collection's indexed
    fields the request sets; services/watch/matcher.py). `embeds` names the fields whose
    records each result item carries (`connections.list` with `withEntities`).
    """

    collection: Collection
    matches: Callable[[Q, Record], bool]
    order: Callable[[Q], Order] | None = None
    pins: Callable[[Q], Sequence[tuple[str, Hashable]]] | None = None
    embeds: Callable[[Q], Sequence[tuple[Collection, str]]] = _no_embeds


@dataclass(frozen=True, slots=True)
class QuerySpec(Generic[Q]):
    """A query on `one.v1.<tenant>.query.<name>`: its request model, its reply `data`
    shape and, if it can be watched, what watching it needs."""

    name: str
    request: type[Q]
    reply: Any
    watch: Watching[Q] | None = None


def _get_ids(request: EntitiesGet) -> list[str]:
    ids = request.ids if request.ids is not None else [request.id]
    return [entity_id for entity_id in dict.fromkeys(ids) if entity_id is not None]


def _get_matches(request: EntitiesGet, record: Record) -> bool:
    return (
        record.get("id") in _get_ids(request)
        and all_equal(record, [("type", request.type)])
        and live(record, request.includeDeleted)
    )


def _list_matches(request: EntitiesList, record: Record) -> bool:
    properties = [(f"properties.{k}", v) for k, v in (request.properties or {}).items()]
    return (
        live(record, request.includeDeleted)
        and all_equal(record, [("type", request.type), ("status", request.status), *properties])
        and within(record.get("createdAt"), request.createdAfter, request.createdBefore)
        and within(record.get("updatedAt"), request.updatedAfter)
    )


def _search_matches(request: EntitiesSearch, record: Record) -> bool:
    name = record.get("name")
    if not (
        isinstance(name, str)
        and live(record)
        and all_equal(record, [("type", request.type), ("status", request.status)])
    ):
        return False
    # The words the store indexes a name under (`nameTerms`, entity_fold.py).
    words = search_terms(name)
    return all(any(word.startswith(term) for word in words) for term in request.terms)


def _connections_match(request: ConnectionsList, record: Record) -> bool:
    return live(record, request.includeDeleted) and all_equal(
        record,
        [
            ("fromEntityId", request.fromEntityId),
            ("toEntityId", request.toEntityId),
            ("relationshipType", request.relationshipType),
            ("metadata.protocol", request.protocol),
            ("metadata.messageType", request.messageType),
        ],
    )


def _connection_ends(request: ConnectionsList) -> Sequence[tuple[Collection, str]]:
    return (
        (("entities", "fromEntityId"), ("entities", "toEntityId")) if request.withEntities else ()
    )


def _events_match(request: EventsList, record: Record) -> bool:
    metadata = [(f"metadata.{k}", v) for k, v in (request.metadata or {}).items()]
    # `since` is inclusive: above `since - 1`, for integer times.
    since = None if request.since is None else request.since - 1
    return within(record.get("timestamp"), since, request.until) and all_equal(
        record,
        [
            ("actorId", request.actorId),
            ("targetId", request.targetId),
            ("type", request.type),
            *metadata,
        ],
    )


def _tags_match(request: TagsList, record: Record) -> bool:
    return live(record) and all_equal(
        record,
        [("entityId", request.entityId), ("key", request.key), ("value", request.value)],
    )


def _tags_order(request: TagsList) -> Order:
    # One entity's tags by key, a key's tags by entity id.
    return Order("key" if request.entityId is not None else "entityId", 1, str)


ENTITIES_GET: Final = QuerySpec(
    "entities.get",
    EntitiesGet,
    EntityRecord | Items[EntityRecord],
    Watching(
        "entities",
        _get_matches,
        pins=lambda request: [("id", entity_id) for entity_id in _get_ids(request)],
    ),
)
ENTITIES_LIST: Final = QuerySpec(
    "entities.list",
    EntitiesList,
    Page[EntityRecord],
    Watching("entities", _list_matches, lambda request: Order(request.orderBy, -1, int)),
)
ENTITIES_SEARCH: Final = QuerySpec(
    "entities.search", EntitiesSearch, Items[EntityRecord], Watching("entities", _search_matches)
)
CONNECTIONS_LIST: Final = QuerySpec(
    "connections.list",
    ConnectionsList,
    Page[ConnectionItem],
    Watching(
        "connections",
        _connections_match,
        lambda _request: Order("createdAt", -1, int),
        embeds=_connection_ends,
    ),
)
EVENTS_LIST: Final = QuerySpec(
    "events.list",
    EventsList,
    Page[EventRecord],
    Watching("events", _events_match, lambda _request: Order("timestamp", -1, int)),
)
TAGS_LIST: Final = QuerySpec(
    "tags.list", TagsList, Page[TagRecord], Watching("tags", _tags_match, _tags_order)
)
GRAPH_TRAVERSE: Final = QuerySpec("graph.traverse", GraphTraverse, Graph)
STATS_COUNTS: Final = QuerySpec("stats.counts", StatsCounts, Counts)

QUERY_SPECS: Final[dict[str, QuerySpec[Any]]] = {
    spec.name: spec
    for spec in (
        ENTITIES_GET,
        ENTITIES_LIST,
        ENTITIES_SEARCH,
        CONNECTIONS_LIST,
        EVENTS_LIST,
        TAGS_LIST,
        GRAPH_TRAVERSE,
        STATS_COUNTS,
    )
}
"""Every query, by name (the subject's last tokens)."""

QUERY_MODELS: Final[dict[str, type[Query]]] = {
    name: spec.request for name, spec in QUERY_SPECS.items()
}
"""The request model of each query name."""

REPLY_DATA: Final[dict[str, Any]] = {name: spec.reply for name, spec in QUERY_SPECS.items()}
"""The `data` shape of each query's success reply."""
