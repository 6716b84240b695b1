"""HTML from Jinja2 templates with autoescaping on: every value a page shows (record names
and properties are user input) is escaped by the engine, never pasted into markup."""

import json
from datetime import UTC, datetime
from typing import Any, Final

import jinja2
from starlette.responses import HTMLResponse

_ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("services.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _time_ms(value: int | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="seconds")


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _text(data: bytes) -> str:
    """A payload as text; pretty JSON where it is JSON."""
    try:
        return _pretty(json.loads(data))
    except ValueError:
        return data.decode("utf-8", errors="replace")


_ENV.filters["time_ms"] = _time_ms
_ENV.filters["time"] = _time
_ENV.filters["pretty"] = _pretty
_ENV.filters["payload"] = _text


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(template).render(**context), status_code=status_code)
