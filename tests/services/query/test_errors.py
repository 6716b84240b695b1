"""One mapping of failures to replies, for queries and watch requests alike."""

import json
import logging
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.queries import EntitiesGet
from services.query.errors import InvalidRequestError, NotFoundError, NotYetError, failure_reply
from services.store.errors import StoreTimeoutError, StoreUnavailableError


def _error(failure: Exception, what: str = "query") -> dict[str, Any]:
    reply = failure_reply(failure, what=what, subject="one.v1.acme.query.entities.get")
    error: dict[str, Any] = json.loads(reply.body)["error"]
    assert reply.outcome == error["code"]
    return error


def _invalid() -> ValidationError:
    try:
        EntitiesGet.model_validate({"id": 5})
    except ValidationError as error:
        return error
    raise AssertionError("a number is not an id")


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (InvalidRequestError("bad"), "invalid_request"),
        (NotFoundError("none"), "not_found"),
        (NotYetError("later"), "timeout"),
        (_invalid(), "invalid_request"),
        (TimeoutError(), "timeout"),
        (StoreTimeoutError("slow"), "timeout"),
        (StoreUnavailableError("down"), "internal"),
        (RuntimeError("boom"), "internal"),
    ],
)
def test_every_failure_has_its_reply_code(failure: Exception, code: str) -> None:
    assert _error(failure)["code"] == code


def test_a_validation_error_lists_its_problems() -> None:
    error = _error(_invalid())
    assert error["message"] == "invalid EntitiesGet request"
    assert [problem["loc"] for problem in error["details"]] == [["id"]]


def test_a_slow_store_and_a_slow_request_say_which() -> None:
    assert _error(StoreTimeoutError("x"))["message"] == "the store did not answer in time"
    assert _error(TimeoutError(), "watch request")["message"] == (
        "the watch request did not finish in time"
    )


def test_what_failed_inside_stays_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="services.query.errors"):
        store = _error(StoreUnavailableError("primary stepped down"))
        other = _error(RuntimeError("secret internals"), "watch request")
    assert store == {"code": "internal", "message": "the store failed to answer", "details": None}
    assert other == {"code": "internal", "message": "the watch request failed", "details": None}
    assert "primary stepped down" in caplog.text
    assert "secret internals" in caplog.text
