"""`ONE_EVENT_LOOP`: what `serve` and `dev` run on."""

import asyncio

import pytest

from services.runtime import event_loop
from services.settings import Settings


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default() -> None:
    assert Settings().event_loop == "uvloop"
    assert event_loop.run(loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_is_the_way_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONE_EVENT_LOOP", "asyncio")
    assert event_loop.run(loop_module(), Settings().event_loop).startswith("asyncio")
