"""The exported contract as a client in another language sees it: the files that
`one-bus schema export DIR` writes, checked with an independent validator (`jsonschema`,
JSON Schema 2020-12 with format checking), never with the pydantic models they came from.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from typer.testing import CliRunner

from services.cli.main import app

ASYNCAPI_URI = "urn:one-bus:test:asyncapi"


def export(directory: Path) -> None:
    result = CliRunner().invoke(app, ["schema", "export", str(directory)])
    assert result.exit_code == 0, result.output


def _validator(schema: dict[str, Any], registry: Registry[Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@dataclass(frozen=True)
class Channel:
    name: str
    pattern: re.Pattern[str]
    parameters: dict[str, dict[str, Any]]
    messages: list[str]

    def accepts(self, subject: str) -> bool:
        """Whether `subject` is an address of this channel, every parameter in its enum."""
        found = self.pattern.fullmatch(subject)
        if found is None:
            return False
        return all(
            value in self.parameters.get(name, {}).get("enum", [value])
            for name, value in found.groupdict().items()
        )


class Exported:
    """The exported schemas by name, and the AsyncAPI document's messages and channels."""

    def __init__(self, directory: Path) -> None:
        self.schemas: dict[str, dict[str, Any]] = {
            path.name.removesuffix(".schema.json"): json.loads(path.read_text())
            for path in directory.glob("*.schema.json")
        }
        self.asyncapi: dict[str, Any] = json.loads((directory / "asyncapi.json").read_text())
        resources = [
            (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
            for schema in self.schemas.values()
        ]
        resources.append((ASYNCAPI_URI, Resource.opaque(self.asyncapi)))
        self.registry: Registry[Any] = Registry().with_resources(resources)
        for name, schema in self.schemas.items():
            jsonschema.Draft202012Validator.check_schema(schema)
            assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name

    def schema(self, name: str) -> jsonschema.Draft202012Validator:
        return _validator(self.schemas[name], self.registry)

    def errors(self, name: str, instance: Any) -> list[str]:
        return [error.message for error in self.schema(name).iter_errors(instance)]

    def message(self, name: str, part: str = "payload") -> jsonschema.Draft202012Validator:
        """An AsyncAPI message's `payload` or `headers` schema, resolved in the document."""
        ref = f"{ASYNCAPI_URI}#/components/messages/{name}/{part}"
        return _validator({"$ref": ref}, self.registry)

    def channels(self) -> list[Channel]:
        channels = []
        for name, channel in self.asyncapi["channels"].items():
            address = channel["address"]
            if address is None:
                continue
            pattern = re.escape(address).replace(r"\{", "{").replace(r"\}", "}")
            pattern = re.sub(r"{(\w+)}", r"(?P<\1>[^.]+)", pattern)
            messages = [ref["$ref"].rsplit("/", 1)[1] for ref in channel["messages"].values()]
            channels.append(
                Channel(name, re.compile(pattern), channel.get("parameters", {}), messages)
            )
        return channels

    def channel_of(self, subject: str) -> Channel:
        """The one channel whose address `subject` is."""
        matching = [channel for channel in self.channels() if channel.accepts(subject)]
        assert len(matching) == 1, (subject, [channel.name for channel in matching])
        return matching[0]

    def conforms_on(self, subject: str, payload: Any, headers: dict[str, str] | None) -> None:
        """`payload` (and `headers`) sent on `subject` is one of its channel's messages."""
        channel = self.channel_of(subject)
        assert self.fits(channel.messages, payload, headers), (subject, payload, headers)

    def channel_messages(self, channel: str) -> list[str]:
        """The message names of a channel, addressed or not (a reply inbox's)."""
        refs = self.asyncapi["channels"][channel]["messages"].values()
        return [ref["$ref"].rsplit("/", 1)[1] for ref in refs]

    def fits(self, messages: list[str], payload: Any, headers: dict[str, str] | None) -> list[str]:
        """The messages among `messages` whose payload (and headers) schema this satisfies."""
        fits = []
        for message in messages:
            payload_ok = self.message(message).is_valid(payload)
            spec = self.asyncapi["components"]["messages"][message]
            headers_ok = "headers" not in spec or self.message(message, "headers").is_valid(
                headers or {}
            )
            if payload_ok and headers_ok:
                fits.append(message)
        return fits
