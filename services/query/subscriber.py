"""The query responder: one NATS micro endpoint per query, in a queue group.

Each query name is an endpoint on `one.v1.*.query.<name>` (any tenant), subscribed in the
queue group `query_queue_group`, so replicas share the requests and each is answered once.
A replica works on up to `query_max_concurrency` requests per endpoint; the dispatcher
bounds the store reads of all of them together.

Two more kinds of subscriber complete the service:

- unknown query names: a plain nats-py subscription on `one.v1.*.query.>` in a queue
  group of its own answers `invalid_request` to names no endpoint serves, and drops the
  others (their endpoint answers). It sees every query, so it is kept off FastStream's
  per-message pipeline: dropping a known name costs a subject split, not a second
  consume (which measured +0.5 ms on every lookup);
- discovery (micro.py): `$SRV.PING|INFO|STATS[.<name>[.<id>]]`, without a queue group,
  so every replica answers for itself.
"""

import time
from typing import Any, Final

from faststream.nats import NatsBroker, NatsResponse
from faststream.nats.annotations import Client, NatsMessage
from faststream.nats.message import NatsMessage as NatsMessageType
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.micro.service import ServiceVerb
from pymongo.asynchronous.database import AsyncDatabase

from services.query.dispatcher import QueryDispatcher
from services.query.micro import Endpoint, MicroService
from services.query.replies import Reply, error_reply
from services.query.routes import ROUTES
from services.settings import Settings

QUERY_SUBJECT: Final = "one.v1.*.query.>"
UNKNOWN_QUEUE_SUFFIX: Final = "-unknown"


async def _raw_body(message: NatsMessageType) -> bytes:
    # FastStream would decode JSON before the handler runs, and fail outside it on bad
    # input (a deeply nested array raises RecursionError there): the dispatcher decodes.
    return message.body


def _within(reply: Reply, max_payload: int) -> Reply:
    if len(reply.body) <= max_payload:
        return reply
    return error_reply(
        "internal",
        f"the reply is larger than the server's max payload ({max_payload} bytes): "
        "ask for a smaller limit",
    )


def _query_name(subject: str) -> str:
    """The name in `one.v1.<tenant>.query.<name>`, whatever the rest of the subject is."""
    return ".".join(subject.split(".")[4:])


async def include_query_subscriber(
    broker: NatsBroker,
    database: AsyncDatabase[dict[str, Any]],
    settings: Settings,
) -> MicroService:
    """Subscribe the query endpoints, the unknown-name answer and discovery on `broker`.

    Connects the broker (if it is not yet): the unknown-name subscription is on its
    connection, and goes with it when the broker stops.
    """
    dispatcher = QueryDispatcher(database, settings)
    service = MicroService(ROUTES, settings.query_queue_group)
    for endpoint in service.endpoints:
        _include_endpoint(broker, dispatcher, service, endpoint, settings)
    for verb, subject in service.control_subjects():
        _include_discovery(broker, service, verb, subject)
    await _subscribe_unknown(await broker.connect(), dispatcher, settings)
    return service


def _include_endpoint(
    broker: NatsBroker,
    dispatcher: QueryDispatcher,
    service: MicroService,
    endpoint: Endpoint,
    settings: Settings,
) -> None:
    @broker.subscriber(
        endpoint.subject,
        queue=settings.query_queue_group,
        decoder=_raw_body,
        max_workers=settings.query_max_concurrency,
    )
    async def answer_query(message: NatsMessage, client: Client) -> NatsResponse:
        started = time.perf_counter_ns()
        reply = await dispatcher.dispatch(message.raw_message.subject, message.body)
        reply = _within(reply, client.max_payload)
        service.record(endpoint.query, time.perf_counter_ns() - started, reply.error)
        return NatsResponse(reply.body, headers=reply.headers)


async def _subscribe_unknown(
    client: NatsClient, dispatcher: QueryDispatcher, settings: Settings
) -> None:
    async def refuse_unknown_query(message: Msg) -> None:
        if _query_name(message.subject) in ROUTES or not message.reply:
            return
        # Refused on the name, before the body is looked at: no I/O.
        reply = await dispatcher.dispatch(message.subject, message.data)
        await client.publish(message.reply, reply.body, headers=reply.headers)

    await client.subscribe(
        QUERY_SUBJECT,
        queue=settings.query_queue_group + UNKNOWN_QUEUE_SUFFIX,
        cb=refuse_unknown_query,
    )


def _include_discovery(
    broker: NatsBroker, service: MicroService, verb: ServiceVerb, subject: str
) -> None:
    @broker.subscriber(subject, decoder=_raw_body)
    async def discover(message: NatsMessage) -> NatsResponse:
        return NatsResponse(service.answer(verb), headers={"content-type": "application/json"})
