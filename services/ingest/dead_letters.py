"""Copying rejected input to the dead-letter stream, bytes and headers intact.

The DLQ message body is the original payload, unchanged, so that a fixed message can be
replayed as it was. The reason travels in headers:

- `One-Dlq-Reason`: a short code (`malformed_json`, `invalid_payload`, ...)
- `One-Dlq-Error`: the human-readable explanation (at most 1 KiB)
- `One-Dlq-Subject`: where the message was published
- `One-Dlq-Stream-Seq`: its sequence in the ingest stream
The original headers are kept; NATS's own (`Nats-*`) are renamed `One-Original-*` so they
do not steer the DLQ publish (an expected-sequence header would make it fail).
"""

from typing import Final

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.subjects import INGEST_KINDS, dlq_subject, is_tenant
from services.ingest.jetstream_message import raw_message
from services.ingest.rejection import Rejection

MAX_ERROR_HEADER: Final = 1024


def dead_letter_subject(subject: str) -> str:
    tokens = subject.split(".")
    tenant = tokens[2] if len(tokens) > 2 and is_tenant(tokens[2]) else "_invalid"
    kind = tokens[3] if len(tokens) > 3 and tokens[3] in INGEST_KINDS else "unknown"
    return dlq_subject(tenant, kind)


def dead_letter_headers(msg: Msg, rejection: Rejection) -> dict[str, str]:
    raw = raw_message(msg)
    headers: dict[str, str] = {}
    for name, value in (msg.headers or {}).items():
        if name.lower().startswith("nats-"):
            name = "One-Original-" + name[len("Nats-") :]
        headers[name] = value
    # One line, so that it is a valid header value whatever the error text holds.
    error = " ".join(rejection.message.split())[:MAX_ERROR_HEADER]
    headers.update(
        {
            "One-Dlq-Reason": rejection.code,
            "One-Dlq-Error": error,
            "One-Dlq-Subject": raw.subject,
            "One-Dlq-Stream-Seq": str(raw.stream_seq),
            # One dead letter per ingest message, however often it is redelivered.
            "Nats-Msg-Id": f"dlq:{raw.stream_seq}",
        }
    )
    return headers


class DeadLetters:
    def __init__(self, js: JetStreamContext, timeout_s: float) -> None:
        self._js = js
        self._timeout_s = timeout_s

    async def send(self, msg: Msg, rejection: Rejection) -> None:
        """Store the dead letter; raises if JetStream did not acknowledge it."""
        await self._js.publish(
            dead_letter_subject(msg.subject),
            msg.data,
            timeout=self._timeout_s,
            headers=dead_letter_headers(msg, rejection),
        )
