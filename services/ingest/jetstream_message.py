"""Reading what decoding needs out of a nats-py JetStream message."""

from nats.aio.msg import Msg

from services.ingest.raw_message import RawMessage


def raw_message(msg: Msg) -> RawMessage:
    metadata = msg.metadata
    return RawMessage(
        subject=msg.subject,
        data=msg.data,
        stream_seq=metadata.sequence.stream,
        received_ms=int(metadata.timestamp.timestamp() * 1000),
        headers=msg.headers or {},
        stream=metadata.stream,
    )


def delivery_count(msg: Msg) -> int:
    return int(msg.metadata.num_delivered or 1)
