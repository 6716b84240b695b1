"""Failures a query handler reports to its caller, each with its reply code."""

from typing import Any

from contracts.errors import ErrorCode


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
