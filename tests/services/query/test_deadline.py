"""A request's deadline: the shorter of the deployment's and the requester's own budget."""

import asyncio

import pytest
from nats.aio.msg import Msg

from contracts.errors import TIMEOUT_HEADER
from services.query.deadline import deadline_in, left_s, request_budget_s
from services.settings import Settings


def _msg(timeout_ms: str | None) -> Msg:
    headers = None if timeout_ms is None else {TIMEOUT_HEADER: timeout_ms}
    return Msg(_client=None, subject="one.v1.acme.query.entities.get", headers=headers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "budget"),
    [(None, 2.0), ("500", 0.5), ("9000", 2.0), ("-5", 2.0), ("1e3", 2.0), ("1234567890", 2.0)],
)
def test_the_requester_may_shorten_the_budget_never_lengthen_it(
    header: str | None, budget: float
) -> None:
    assert request_budget_s(Settings(query_timeout_s=2.0), _msg(header)) == budget


async def test_what_is_left_of_a_deadline_and_none_past_it() -> None:
    assert 0 < left_s(deadline_in(5)) <= 5
    with pytest.raises(TimeoutError):
        left_s(asyncio.get_running_loop().time() - 0.001)
