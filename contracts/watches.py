"""Live queries on `one.v1.<tenant>.watch.<query>` (docs/watch.md).

A watch request is the query's own request plus `deliverTo`, the subject the requester
already subscribes to; the reply carries the first result, and every later result goes to
`deliverTo` as a push with a strictly increasing `version`. A watch lives as long as its
lease, renewed on `watch.renew` and ended on `watch.stop`.
"""

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model
from pydantic.json_schema import SkipJsonSchema

from contracts.queries import QUERY_SPECS, REPLY_DATA, Query

WATCHABLE_MODELS: Final[dict[str, type[Query]]] = {
    name: spec.request for name, spec in QUERY_SPECS.items() if spec.watch is not None
}
"""The queries that can be watched (their spec says how), with their plain request models."""

MAX_DELIVER_TO_LENGTH: Final = 256

DeliverTo = Annotated[
    str,
    StringConstraints(
        max_length=MAX_DELIVER_TO_LENGTH,
        # NATS subject tokens: not empty, no whitespace, no wildcard (`*`, `>`).
        pattern=r"^[!-)+-\-/-=?-~]+(\.[!-)+-\-/-=?-~]+)*$",
    ),
    Field(
        description="A concrete NATS subject to push to. Checked by the service, beyond this"
        " schema: it is an inbox, `_INBOX.…`, and under the secure layout the watching"
        " tenant's own, `_INBOX_TENANT.<tenant>.…`."
    ),
]
"""A concrete NATS subject (printable ASCII tokens without `*` or `>`) to push to."""

WatchId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,64}$")]


def _no_cursor(value: None) -> None:
    # Reached only for an explicit `"cursor": null`; any other value is not None already.
    raise ValueError("a watch follows the first page: no cursor")


# Refused in any form, and absent from the schema, whose `additionalProperties: false`
# then refuses it too.
NoCursor = SkipJsonSchema[Annotated[None, AfterValidator(_no_cursor)]]


def _with_deliver_to(name: str, model: type[Query]) -> type[Query]:
    # The query's own model, so its validators and their schema rules (exactly one of
    # id/ids, ...) apply as is.
    fields: dict[str, Any] = {"deliverTo": (DeliverTo, ...)}
    if "cursor" in model.model_fields:
        fields["cursor"] = (NoCursor, None)
    watch_model: type[Query] = create_model(
        f"Watch{model.__name__}",
        __base__=model,
        __doc__=f"A watch of `{name}`: its request (without `cursor`) plus `deliverTo`.",
        **fields,
    )
    return watch_model


WATCH_MODELS: Final[dict[str, type[Query]]] = {
    name: _with_deliver_to(name, model) for name, model in WATCHABLE_MODELS.items()
}
"""The request model of `watch.<name>`: the query's fields plus `deliverTo`.

A watch follows the first page: it has no `cursor`."""


class WatchControl(BaseModel):
    """`watch.renew` and `watch.stop`: which watch."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    watchId: WatchId


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)


class WatchStarted(_Message):
    """The reply `data` of `watch.<name>`: the first result, as the plain query returns it.

    `result` is null where the query would answer `not_found` (`entities.get` by `id`)."""

    watchId: str
    version: Literal[1] = 1
    result: Any
    leaseS: float


class WatchRenewed(_Message):
    """The reply `data` of `watch.renew`: the lease runs `leaseS` from now."""

    watchId: str
    leaseS: float


class WatchStopped(_Message):
    watchId: str
    stopped: Literal[True] = True


class WatchPush(_Message):
    """On `deliverTo` each time the result changes; `version` only ever grows."""

    watchId: str
    version: Annotated[int, Field(ge=2)]
    result: Any


EndReason = Literal["stopped", "lease_expired", "result_too_large"]


class WatchEnded(_Message):
    """The last message on `deliverTo`: the watch is over."""

    watchId: str
    ended: Literal[True] = True
    reason: EndReason


def _typed(model: type[_Message], name: str) -> type[_Message]:
    # `result` as the query `name` answers it; null where it would answer `not_found`.
    typed: type[_Message] = create_model(
        f"{model.__name__}{''.join(part.title() for part in name.split('.'))}",
        __base__=model,
        __doc__=model.__doc__,
        result=(REPLY_DATA[name] | None, ...),
    )
    return typed


WATCH_STARTED_MODELS: Final[dict[str, type[_Message]]] = {
    name: _typed(WatchStarted, name) for name in WATCHABLE_MODELS
}
"""The reply `data` of `watch.<name>`, its `result` typed as the query's (for schemas)."""

WATCH_PUSH_MODELS: Final[dict[str, type[_Message]]] = {
    name: _typed(WatchPush, name) for name in WATCHABLE_MODELS
}
"""A push of a watch of `<name>`, its `result` typed as the query's (for schemas)."""
