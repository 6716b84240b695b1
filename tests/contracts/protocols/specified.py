"""Every protocol's sample tables in one place: protocol → (good samples, malformed ones)."""

from tests.contracts.protocols import test_a2a, test_acp, test_ag_ui, test_ap2, test_x402
from tests.contracts.protocols.sample_files import Expected, Rejected

SPECIFIED: dict[str, tuple[dict[str, Expected], dict[str, Rejected]]] = {
    "a2a": (test_a2a.GOOD, test_a2a.MALFORMED),
    "acp": (test_acp.GOOD, test_acp.MALFORMED),
    "ap2": (test_ap2.GOOD, test_ap2.MALFORMED),
    "x402": (test_x402.GOOD, test_x402.MALFORMED),
    "ag-ui": (test_ag_ui.GOOD, test_ag_ui.MALFORMED),
}

GOOD_SAMPLES: list[tuple[str, str, Expected]] = [
    (protocol, name, expected)
    for protocol, (good, _) in SPECIFIED.items()
    for name, expected in sorted(good.items())
]
MALFORMED_SAMPLES: list[tuple[str, str, Rejected]] = [
    (protocol, name, rejected)
    for protocol, (_, malformed) in SPECIFIED.items()
    for name, rejected in sorted(malformed.items())
]
