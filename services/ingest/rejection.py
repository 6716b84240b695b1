"""Why a message was refused: the reason that travels with it to the dead-letter queue."""

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from contracts.dead_letters import DeadLetterReason

RejectionCode = DeadLetterReason


@dataclass(frozen=True, slots=True)
class Rejection:
    code: RejectionCode
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_validation(cls, error: ValidationError) -> "Rejection":
        errors: list[dict[str, Any]] = [
            dict(e)
            for e in error.errors(include_url=False, include_input=False, include_context=False)
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return cls("malformed_json", "payload is not valid JSON", errors)
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<payload>'}: {e['msg']}" for e in errors[:5]
        )
        return cls("invalid_payload", summary, errors)
