"""Every sample message, good or malformed, of every protocol, against its specification."""

import pytest

from contracts.protocols import ProtocolMessageError, map_protocol_message
from tests.contracts.protocols.sample_files import (
    Expected,
    Rejected,
    check_sample,
    good_samples,
    load,
    malformed_samples,
)
from tests.contracts.protocols.specified import GOOD_SAMPLES, MALFORMED_SAMPLES, SPECIFIED


@pytest.mark.parametrize("protocol", list(SPECIFIED))
def test_every_sample_file_is_specified(protocol: str) -> None:
    good, malformed = SPECIFIED[protocol]
    assert set(good) == good_samples(protocol)
    assert set(malformed) == malformed_samples(protocol)


@pytest.mark.parametrize(("protocol", "name", "expected"), GOOD_SAMPLES)
def test_good_sample_maps_as_specified(protocol: str, name: str, expected: Expected) -> None:
    check_sample(protocol, name, expected)


@pytest.mark.parametrize(("protocol", "name", "rejected"), MALFORMED_SAMPLES)
def test_malformed_sample_is_rejected_with_its_reason(
    protocol: str, name: str, rejected: Rejected
) -> None:
    with pytest.raises(ProtocolMessageError) as caught:
        map_protocol_message(protocol, rejected.message_type, load(protocol, name))
    assert rejected.reason in str(caught.value)
