"""Free-form JSON objects (`properties`, `metadata`) with the limits a document store needs.

MongoDB refuses field names that start with `$` or contain NUL, and nests at most 100
levels; catching these here turns them into a clear validation error at the edge instead
of a failed write deep in a batch.
"""

from typing import Annotated, Any, Final

from pydantic import AfterValidator

MAX_DEPTH: Final = 32


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


def _checked_object(value: dict[str, Any]) -> dict[str, Any]:
    _check_tree(value, 1, "")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_checked_object)]
"""A JSON object safe to store as a MongoDB subdocument."""
