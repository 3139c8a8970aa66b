"""Helpers every surface uses: timestamps, etags, copies of stored documents, and the caller's email."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from typing import TypeVar, cast

T = TypeVar("T")


def now_rfc3339() -> str:
    """Now as the newer APIs (Cloud Run v2, Cloud Build, Artifact Registry, IAM) write it: microseconds, ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def policy_etag() -> str:
    # Google's policy etags are 8 bytes starting 0x07 ("BwX…" in base64); the wire form is base64 (bytes field).
    return base64.b64encode(b"\x07\x06" + os.urandom(6)).decode()


def varint(value: int) -> bytes:
    """A protobuf base-128 varint: the etags made from a protobuf message (Cloud Run's, Cloud Storage's) use it."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def copy_doc(doc: T) -> T:
    """A deep copy of a stored JSON document, so that an answer never aliases the state."""
    return cast(T, json.loads(json.dumps(doc)))


def caller_email(caller: str) -> str:
    """``user:alice@example.com`` -> ``alice@example.com``, as Google writes a caller in resources and messages.

    The caller is the member from the bearer token (core.caller_from_headers); ``anonymous`` has no email.
    """
    if caller == "anonymous":
        return ""
    return caller.split(":", 1)[1] if ":" in caller else caller
