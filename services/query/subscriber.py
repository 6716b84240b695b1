"""The query responder: a core NATS subscriber on `one.v1.*.query.>` in a queue group.

Query replicas share the queue group, so each request is answered once (DESIGN §7).
"""

from typing import Any, Final

from faststream.nats import NatsBroker, NatsResponse
from faststream.nats.annotations import Client, NatsMessage
from faststream.nats.message import NatsMessage as NatsMessageType
from pymongo.asynchronous.database import AsyncDatabase

from services.query.dispatcher import QueryDispatcher
from services.query.replies import error_reply
from services.settings import Settings

QUERY_SUBJECT: Final = "one.v1.*.query.>"
# Requests answered at once per replica: one slow query must not hold up the others.
MAX_CONCURRENT_QUERIES: Final = 32


async def _raw_body(message: NatsMessageType) -> bytes:
    # FastStream would decode JSON before the handler runs, and fail outside it on bad
    # input (a deeply nested array raises RecursionError there): the dispatcher decodes.
    return message.body


def include_query_subscriber(
    broker: NatsBroker,
    database: AsyncDatabase[dict[str, Any]],
    settings: Settings,
) -> None:
    dispatcher = QueryDispatcher(database, settings)

    @broker.subscriber(
        QUERY_SUBJECT,
        queue=settings.query_queue_group,
        decoder=_raw_body,
        max_workers=MAX_CONCURRENT_QUERIES,
    )
    async def answer_query(message: NatsMessage, client: Client) -> NatsResponse:
        reply = await dispatcher.dispatch(message.raw_message.subject, message.body)
        if len(reply.body) > client.max_payload:
            reply = error_reply(
                "internal",
                f"the reply is larger than the server's max payload ({client.max_payload} "
                "bytes): ask for a smaller limit",
            )
        return NatsResponse(reply.body, headers=reply.headers)
