"""What ingest reads from a JetStream message's ack subject, parsed without nats-py's
metadata (services/ingest/jetstream_message.py), agrees with nats-py's parser."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from services.ingest.jetstream_message import delivery_count, raw_message

_NS = st.integers(min_value=0, max_value=2**63 - 1)
_SEQ = st.integers(min_value=1, max_value=2**63 - 1)


def _msg(reply: str) -> Msg:
    return Msg(None, subject="one.v1.t.events.x", reply=reply, data=b"{}")  # type: ignore[arg-type]


def _agrees(reply: str) -> None:
    ours = raw_message(_msg(reply))
    theirs = _msg(reply).metadata
    assert ours.stream_seq == theirs.sequence.stream
    assert ours.stream == theirs.stream
    # nats-py rounds through a float datetime; the milliseconds agree but at a boundary.
    assert abs(ours.received_ms - int(theirs.timestamp.timestamp() * 1000)) <= 1


@given(delivered=_SEQ, seq=_SEQ, consumer_seq=_SEQ, ns=_NS, pending=_SEQ)
def test_the_old_ack_subject_gives_nats_py_s_sequence_and_time(
    delivered: int, seq: int, consumer_seq: int, ns: int, pending: int
) -> None:
    _agrees(f"$JS.ACK.ONE_INGEST.one-bus-ingest.{delivered}.{seq}.{consumer_seq}.{ns}.{pending}")


@given(seq=_SEQ, ns=_NS, token=st.sampled_from(["", ".r4nd0m"]))
def test_the_new_ack_subject_with_domain_and_account_gives_the_same(
    seq: int, ns: int, token: str
) -> None:
    _agrees(f"$JS.ACK.hub.ACCHASH.ONE_INGEST.one-bus-ingest.3.{seq}.17.{ns}.0{token}")


def test_the_stored_time_is_read_to_the_millisecond() -> None:
    raw = raw_message(_msg("$JS.ACK.S.C.1.42.1.1700000000123456789.0"))
    assert (raw.stream_seq, raw.received_ms) == (42, 1_700_000_000_123)
    assert delivery_count(_msg("$JS.ACK.S.C.4.42.1.1700000000123456789.0")) == 4


@pytest.mark.parametrize("reply", ["", "_INBOX.abc", "$JS.ACK.too.short", "$JS.NAK.S.C.1.2.3.4.5"])
def test_a_reply_that_is_no_ack_subject_is_refused_as_nats_py_refuses_it(reply: str) -> None:
    with pytest.raises(NotJSMessageError):
        raw_message(_msg(reply))
