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

from typing import Final, Literal, get_args

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
DEAD_LETTER_REASONS: Final[tuple[str, ...]] = get_args(DeadLetterReason)
