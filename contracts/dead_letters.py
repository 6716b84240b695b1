"""The headers a dead letter carries on `one.v1.<tenant>.dlq.<kind>` (stream ONE_DLQ).

A dead letter's body is the rejected message's bytes, unchanged; why it was refused
travels in these headers. The publisher's own headers are kept, except NATS's (`Nats-*`),
which are renamed `One-Original-*` so they do not steer the dead letter's own publish.

A dead letter always fits the server's max payload: what does not fit is cut, and the cut
is said (`One-Dlq-Payload-Cut`: the original body's size; `One-Dlq-Headers-Cut`: how many
original headers were dropped or shortened). The whole original stays in the ingest
stream it came from (`One-Dlq-Stream`: `ONE_INGEST`, or `ONE_INGEST_<tenant>` in the
per-tenant layout), at `One-Dlq-Stream-Seq`, while that stream retains it: the shared
stream keeps input for `ingest_max_age_s`; a tenant's own stream is a work queue and
keeps nothing once it is taken, so there a cut dead letter stays cut.
"""

from typing import Any, Final, Literal, get_args

from contracts.nats_headers import HEADER_MSG_ID

HEADER_REASON: Final = "One-Dlq-Reason"
HEADER_ERROR: Final = "One-Dlq-Error"
HEADER_SUBJECT: Final = "One-Dlq-Subject"
HEADER_STREAM: Final = "One-Dlq-Stream"
HEADER_STREAM_SEQ: Final = "One-Dlq-Stream-Seq"
HEADER_PAYLOAD_CUT: Final = "One-Dlq-Payload-Cut"
HEADER_HEADERS_CUT: Final = "One-Dlq-Headers-Cut"
DLQ_HEADER_PREFIX: Final = "One-Dlq-"
ORIGINAL_HEADER_PREFIX: Final = "One-Original-"

DeadLetterReason = Literal[
    "bad_subject",
    "oversize",
    "malformed_json",
    "invalid_payload",
    "subject_mismatch",
    "invalid_envelope",
    "store_rejected",
    # Failed in a way nobody foresaw (not bad input, not an outage) on every delivery.
    "processing_failed",
]
DEAD_LETTER_REASONS: Final[tuple[DeadLetterReason, ...]] = get_args(DeadLetterReason)

DIGITS: Final = "^[0-9]+$"


def dead_letter_msg_id(ingest_stream: str, stream_seq: int) -> str:
    """A dead letter's `Nats-Msg-Id`: one per ingest message, so a redelivered rejection
    is not dead-lettered twice."""
    return f"dlq:{ingest_stream}:{stream_seq}"


def replay_msg_id(dlq_seq: int) -> str:
    """The `Nats-Msg-Id` a replayed dead letter is published with: replaying one letter
    twice inside the duplicate window stores it once."""
    return f"replay:{dlq_seq}"


def dead_letter_headers_schema() -> dict[str, Any]:
    """The JSON Schema of a dead letter's headers (name → value), for the exported files
    and the AsyncAPI document alike. The publisher's own headers are kept as they were."""
    text = {"type": "string"}
    return {
        "type": "object",
        "required": [HEADER_REASON, HEADER_ERROR, HEADER_SUBJECT, HEADER_STREAM, HEADER_STREAM_SEQ],
        "properties": {
            HEADER_REASON: {"type": "string", "enum": list(DEAD_LETTER_REASONS)},
            HEADER_ERROR: {**text, "description": "Why it was refused (at most 1 KiB, one line)."},
            HEADER_SUBJECT: {**text, "description": "The subject it was published on."},
            HEADER_STREAM_SEQ: {
                "type": "string",
                "pattern": DIGITS,
                "description": "Its sequence in the ingest stream it came from.",
            },
            HEADER_STREAM: {
                **text,
                "description": "The ingest stream it came from (`ONE_INGEST`, or a tenant's own).",
            },
            HEADER_PAYLOAD_CUT: {
                "type": "string",
                "pattern": DIGITS,
                "description": "Present when the body was cut: the original body's size.",
            },
            HEADER_HEADERS_CUT: {
                "type": "string",
                "pattern": DIGITS,
                "description": "Present when original headers were dropped or shortened: how many.",
            },
            HEADER_MSG_ID: {
                "type": "string",
                "pattern": "^dlq:[A-Za-z0-9_-]+:[0-9]+$",
                "description": "One dead letter per ingest message, however often redelivered: "
                "`dlq:<ingest stream>:<sequence>`.",
            },
        },
        "patternProperties": {
            f"^{ORIGINAL_HEADER_PREFIX}": {
                **text,
                "description": "A NATS header of the original (`Nats-*`), renamed.",
            }
        },
        "additionalProperties": {
            **text,
            "description": "The publisher's own headers, kept as they were.",
        },
    }
