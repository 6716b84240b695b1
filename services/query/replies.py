"""Reply bytes and headers: `{"ok": true, "data"}`, or an error with NATS micro headers."""

from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_json

from contracts.errors import (
    ERROR_STATUS,
    SERVICE_ERROR_CODE_HEADER,
    SERVICE_ERROR_HEADER,
    ErrorCode,
)

CONTENT_TYPE = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class Reply:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # "ok", or the error code: a bounded metric label.
    outcome: str = "ok"

    @property
    def error(self) -> str | None:
        """`"<status>:<message>"` of an error reply (as NATS micro reports it), else None."""
        status = self.headers.get(SERVICE_ERROR_CODE_HEADER)
        if status is None:
            return None
        return f"{status}:{self.headers.get(SERVICE_ERROR_HEADER, '')}"


def encode_json(value: Any) -> bytes:
    # Strict JSON (RFC 8259), as every client parses it: a non-finite number (refused at
    # ingest, but another tool may have written one) is null, as on the changes stream.
    # Stored documents came from JSON, so `fallback` only meets what MongoDB itself adds
    # (an ObjectId, a date written by another tool): their text is the honest rendering.
    return to_json(value, inf_nan_mode="null", fallback=str)


def ok_reply(data: Any) -> Reply:
    return Reply(encode_json({"ok": True, "data": data}), dict(CONTENT_TYPE))


def error_reply(code: ErrorCode, message: str, details: Any = None) -> Reply:
    body = {"ok": False, "error": {"code": code, "message": message, "details": details}}
    headers = {
        **CONTENT_TYPE,
        # A header value is one line: keep the message readable, never a header break.
        SERVICE_ERROR_HEADER: " ".join(message.split())[:512],
        SERVICE_ERROR_CODE_HEADER: str(ERROR_STATUS[code]),
    }
    return Reply(encode_json(body), headers, code)
