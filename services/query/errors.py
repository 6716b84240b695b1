"""Failures a query handler reports to its caller, each with its reply code, and the reply
every failure of a query or watch request gets (`failure_reply`)."""

import logging
from typing import Any

from pydantic import ValidationError

from contracts.errors import ErrorCode, validation_problems
from services.query.replies import Reply, error_reply
from services.store.errors import StoreTimeoutError, StoreUnavailableError

log = logging.getLogger(__name__)


class QueryError(Exception):
    code: ErrorCode = "internal"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequestError(QueryError):
    code = "invalid_request"


class NotFoundError(QueryError):
    code = "not_found"


class NotYetError(QueryError):
    """`after` named a write ingest had not finished by the request's deadline."""

    code = "timeout"


def failure_reply(error: Exception, *, what: str, subject: str) -> Reply:
    """The reply to a query or watch request that raised `error`: the one mapping of
    failures to reply codes, so both sides answer a failure alike.

    The caller's own mistakes and the store's timeouts are answered as such; a store that
    failed is logged as a warning, anything else with its traceback, both `internal`.
    """
    if isinstance(error, QueryError):
        return error_reply(error.code, error.message, error.details)
    if isinstance(error, ValidationError):
        problems = validation_problems(error)
        return error_reply("invalid_request", f"invalid {error.title} request", problems)
    if isinstance(error, StoreTimeoutError):
        return error_reply("timeout", "the store did not answer in time")
    if isinstance(error, TimeoutError):
        return error_reply("timeout", f"the {what} did not finish in time")
    if isinstance(error, StoreUnavailableError):
        log.warning("%s on %s failed in the store: %s", what, subject, error)
        return error_reply("internal", "the store failed to answer")
    log.error("%s on %s failed", what, subject, exc_info=error)
    return error_reply("internal", f"the {what} failed")
