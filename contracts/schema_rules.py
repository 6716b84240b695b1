"""Cross-field rules as JSON Schema fragments, so the exported schemas state them too.

A model whose validator checks a rule across fields (exactly one of `id`/`ids`, a variant's
metadata per type) states the same rule in its JSON Schema through `json_schema_extra`,
built here from the same field names and tables the validator uses. "Given" means present
and not null: pydantic treats an explicit null like an absent optional field, so the
fragments do too (a plain `required` would count `"id": null` as given).
"""

from collections.abc import Iterable, Mapping
from typing import Any

Schema = dict[str, Any]


def given(field: str) -> Schema:
    """The object has `field`, and not as null."""
    return {"required": [field], "properties": {field: {"not": {"type": "null"}}}}


def exactly_one_of(*fields: str) -> Schema:
    return {"oneOf": [given(field) for field in fields]}


def at_least_one_of(*fields: str) -> Schema:
    return {"anyOf": [given(field) for field in fields]}


def needs(field: str, needed: str) -> Schema:
    """If `field` is given, `needed` is given too."""
    return {"if": given(field), "then": given(needed)}


def when_equal(field: str, value: str, then: Schema) -> Schema:
    """`then` applies to objects whose `field` is `value`."""
    return {"if": {"required": [field], "properties": {field: {"const": value}}}, "then": then}


def case_insensitive(words: Iterable[str], *, padded: bool = False) -> str:
    """An ECMA-262 pattern matching exactly these words in any case (no inline flags there);
    `padded`: with any whitespace around, for values the model strips."""
    alternatives = (
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else _escaped(c) for c in word)
        for word in words
    )
    space = r"\s*" if padded else ""
    return f"^{space}(?:" + "|".join(alternatives) + f"){space}$"


def _escaped(char: str) -> str:
    # Only syntax characters: with the `u` flag (ajv's), any other escape is an error.
    return "\\" + char if char in r"^$\.*+?()[]{}|/" else char


def add_rules(schema: Schema, *rules: Schema) -> None:
    """Append `rules` to the schema's `allOf` (every one must hold)."""
    schema.setdefault("allOf", []).extend(rules)


def inline(schema: Schema) -> Schema:
    """A model's own JSON Schema without its title, to nest inside another (no `$defs`)."""
    assert "$defs" not in schema, "only self-contained schemas can be nested inline"
    return {key: value for key, value in schema.items() if key != "title"}


def variants(field: str, table: Mapping[str, Schema], target: str) -> list[Schema]:
    """One rule per table entry: where `field` is the key, `target` must be given and match."""
    return [
        when_equal(field, key, {**given(target), "properties": {target: schema}})
        for key, schema in table.items()
    ]


def describe(schema: Schema, text: str) -> None:
    """Add `text` to the schema's description (the rules JSON Schema cannot state)."""
    current = schema.get("description")
    schema["description"] = f"{current}\n\n{text}" if current else text
