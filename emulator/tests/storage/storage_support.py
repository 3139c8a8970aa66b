"""What the Cloud Storage tests share: a client on the emulator, unique names, crc32c."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import google_crc32c
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage


def _client(emulator: Any, project: str = "storage-tests") -> storage.Client:
    return storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.url}
    )


def _name(prefix: str = "bkt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
