"""Reading what decoding needs out of a nats-py JetStream message."""

from typing import Final

from nats.aio.msg import Msg

from services.ingest.raw_message import RawMessage

# `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>`;
# the newer form adds a domain and an account hash after `ACK` (and may add a token).
_V1_TOKENS: Final = 9
_V1_STREAM: Final = 2
_V1_STREAM_SEQ: Final = 5
_V1_TIMESTAMP: Final = 7
_V2_MIN_TOKENS: Final = 11


def raw_message(msg: Msg) -> RawMessage:
    stream, stream_seq, timestamp_ns = _position(msg)
    return RawMessage(
        subject=msg.subject,
        data=msg.data,
        stream_seq=stream_seq,
        received_ms=timestamp_ns // 1_000_000,
        headers=msg.headers or {},
        stream=stream,
    )


def _position(msg: Msg) -> tuple[str, int, int]:
    """(stream, stream sequence, stored at in ns) from the ack subject, without nats-py's
    full metadata (its datetime and dataclasses cost ingest a twentieth of its CPU)."""
    # getattr: the handler's unit tests pass messages with metadata and no ack subject.
    tokens = (getattr(msg, "reply", None) or "").split(".")
    if tokens[:2] == ["$JS", "ACK"]:
        if len(tokens) == _V1_TOKENS:
            return tokens[_V1_STREAM], int(tokens[_V1_STREAM_SEQ]), int(tokens[_V1_TIMESTAMP])
        if len(tokens) >= _V2_MIN_TOKENS:
            return (
                tokens[Msg.Ack.Stream],
                int(tokens[Msg.Ack.StreamSeq]),
                int(tokens[Msg.Ack.Timestamp]),
            )
    # Not an ack subject we know: nats-py's parser raises the error that says so.
    metadata = msg.metadata
    at_ns = int(metadata.timestamp.timestamp() * 1_000_000_000)
    return metadata.stream, metadata.sequence.stream, at_ns


def delivery_count(msg: Msg) -> int:
    return int(msg.metadata.num_delivered or 1)
