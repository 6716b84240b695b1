"""Registering the ingest pull consumer on a FastStream NATS broker."""

from typing import Annotated

from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import DeliverPolicy

from contracts.subjects import PREFIX
from services.ingest.batch_handler import BatchHandler
from services.settings import Settings

_BatchMessage = Annotated[NatsBatchMessage, Context("message")]


async def _undecoded(message: StreamMessage[list[Msg]]) -> list[bytes]:
    # Decoding is the ingest path's own first step (it must survive any bytes); FastStream's
    # JSON decoding would fail on garbage before our handler could dead-letter it.
    return [msg.data for msg in message.raw_message]


def include_ingest_subscriber(
    broker: NatsBroker, handler: BatchHandler, settings: Settings
) -> None:
    """One durable pull consumer over every ingest subject, shared by all replicas.

    Acks are manual (see BatchHandler): FastStream's default would terminate a message
    whenever the handler raised, silently dropping it on a transient store error.
    """
    consumer = ConsumerConfig(
        durable_name=settings.ingest_consumer,
        ack_policy=JsAckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
        max_deliver=-1,
    )

    @broker.subscriber(
        f"{PREFIX}.>",
        stream=JStream(settings.ingest_stream, declare=False),
        durable=settings.ingest_consumer,
        config=consumer,
        pull_sub=PullSub(
            batch_size=settings.batch_size, timeout=settings.batch_max_wait_s, batch=True
        ),
        ack_policy=AckPolicy.MANUAL,
        decoder=_undecoded,
        title="one-bus-ingest",
    )
    async def ingest(body: list[bytes], message: _BatchMessage) -> None:
        await handler.handle(message.raw_message)
