"""Free-form JSON objects (`properties`, `metadata`) with the limits a document store needs.

MongoDB refuses field names that start with `$` or contain NUL, nests at most 100 levels,
and stores integers in at most 64 bits; strict JSON (RFC 8259, what every JavaScript client
parses) has no NaN or Infinity. Catching these here turns them into a clear validation
error at the edge instead of a failed write deep in a batch, or a reply a client cannot
parse.
"""

import math
from typing import Annotated, Any, Final

from pydantic import AfterValidator, WithJsonSchema

MAX_DEPTH: Final = 32
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def _check_tree(value: Any, depth: int, path: str) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels at {path or '$'}")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$"):
                raise ValueError(f"field name {key!r} at {path or '$'} starts with '$'")
            if "\x00" in key:
                raise ValueError(f"field name at {path or '$'} contains NUL")
            _check_tree(item, depth + 1, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_tree(item, depth + 1, f"{path}[{index}]")
    elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(
            f"integer at {path or '$'} is outside the signed 64-bit range; send it as a string"
        )
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} at {path or '$'} is not a JSON number")


def check_storable(value: Any) -> None:
    """Raise ValueError unless `value` is JSON that MongoDB and strict JSON can both hold."""
    _check_tree(value, 1, "")


def _checked_object(value: dict[str, Any]) -> dict[str, Any]:
    check_storable(value)
    return value


# JSON Schema states the rule for the top-level names; deeper levels, the depth and the
# 64-bit integers are said in the description (a recursive rule would need a `$ref` that
# every document embedding this schema resolves differently).
_JSON_OBJECT_SCHEMA: Final = {
    "type": "object",
    "propertyNames": {"pattern": "^(?:[^$\\u0000][^\\u0000]*)?$"},
    "description": "Free-form JSON: no field name starts with `$` or contains NUL (at any"
    f" depth), at most {MAX_DEPTH} levels deep, integers within the signed 64-bit range.",
}

JsonObject = Annotated[
    dict[str, Any], AfterValidator(_checked_object), WithJsonSchema(_JSON_OBJECT_SCHEMA)
]
"""A JSON object safe to store as a MongoDB subdocument and to send back as strict JSON."""
