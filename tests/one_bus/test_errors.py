"""Error replies as the SDK raises them: a refusal on admission is an `OverloadedError`
(still a `QueryError` with code `timeout`, so code written before it keeps working)."""

from contracts.errors import OVERLOADED, ErrorBody
from one_bus import NotFoundError, OverloadedError, QueryError


def test_a_refusal_on_admission_is_an_overloaded_error_with_code_timeout() -> None:
    body = ErrorBody(
        code="timeout",
        message="overloaded: tenant 'a' has 8 requests in hand; try again shortly",
        details={"reason": OVERLOADED, "scope": "tenant", "limit": 8},
    )
    error = QueryError.from_body("entities.list", body)
    assert isinstance(error, OverloadedError)
    assert error.code == "timeout"
    assert error.details["limit"] == 8


def test_a_plain_timeout_and_other_codes_keep_their_class() -> None:
    timeout = QueryError.from_body("entities.list", ErrorBody(code="timeout", message="late"))
    assert type(timeout) is QueryError
    odd = ErrorBody(code="timeout", message="x", details={"reason": "something else"})
    assert type(QueryError.from_body("q", odd)) is QueryError
    missing = NotFoundError.from_body("entities.get", ErrorBody(code="not_found", message="no"))
    assert type(missing) is NotFoundError
