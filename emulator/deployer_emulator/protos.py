"""Strict request parsing with the client libraries' own message types.

``json_format.Parse(..., ignore_unknown_fields=False)`` rejects misspelt fields, wrong types and bad enum values
the way Google's front end does, and accepts both enum spellings (names from gcloud, integers from the Python
clients, which send ``$alt=json;enum-encoding=int``). Required and output-only rules are not in the runtime
descriptors: the surfaces check those by hand.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from google.protobuf import json_format

from deployer_emulator.errors import invalid_argument

M = TypeVar("M")


def parse(message_type: type[M], body: bytes | str | dict[str, Any], *, field: str) -> M:
    """Parse a REST body into a proto-plus ``message_type``; 400 INVALID_ARGUMENT the way Google words it."""
    if isinstance(body, dict):
        text = json.dumps(body)
    else:
        text = body.decode() if isinstance(body, bytes) else body
    if not text.strip():
        text = "{}"
    pb = message_type.pb()()  # type: ignore[attr-defined]
    try:
        json_format.Parse(text, pb, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        # Google: 'Invalid JSON payload received. Unknown name "foo" at 'service': Cannot find field.'
        detail = str(exc)
        message = f"Invalid JSON payload received. {detail} (at '{field}')"
        raise invalid_argument(message, field=field, description=message) from exc
    return message_type.wrap(pb)  # type: ignore[attr-defined,no-any-return]


def to_json(message: Any) -> dict[str, Any]:
    """A proto-plus message as REST JSON: lowerCamelCase names, enum names, int64 as strings."""
    pb = type(message).pb(message)
    return json_format.MessageToDict(pb, preserving_proto_field_name=False)  # type: ignore[no-any-return]


def merge_json(message_type: type[M], doc: dict[str, Any]) -> M:
    """Load stored REST JSON back into a message (stored documents are already valid)."""
    pb = message_type.pb()()  # type: ignore[attr-defined]
    json_format.ParseDict(doc, pb, ignore_unknown_fields=False)
    return message_type.wrap(pb)  # type: ignore[attr-defined,no-any-return]


def parse_pb(body: bytes, message: Any, field: str) -> None:
    """Parse a REST body into a raw protobuf ``message`` (the IAM request types have no proto-plus wrapper)."""
    try:
        json_format.Parse(body.decode() or "{}", message, ignore_unknown_fields=False)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        text = f"Invalid JSON payload received. {exc}"
        raise invalid_argument(text, field=field, description=text) from exc
