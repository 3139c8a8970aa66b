"""Downloads (storage/media.py): ranged reads."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from storage_support import _client, _crc32c, _name


def test_ranged_reads(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    data = bytes(range(256)) * 4
    bucket.blob("r").upload_from_string(data)
    blob = bucket.blob("r")
    assert blob.download_as_bytes(start=10, end=19) == data[10:20]
    assert blob.download_as_bytes(start=1000) == data[1000:]

    url = f"{emulator.url}/download/storage/v1/b/{bucket.name}/o/r"
    partial = requests.get(url, params={"alt": "media"}, headers={"Range": "bytes=1020-"}, timeout=10)
    assert partial.status_code == 206
    assert partial.headers["Content-Range"] == f"bytes 1020-1023/{len(data)}"
    assert partial.content == data[1020:]
    assert partial.headers["X-Goog-Generation"].isdigit()
    assert (
        partial.headers["X-Goog-Hash"]
        == f"crc32c={_crc32c(data)},md5={base64.b64encode(hashlib.md5(data).digest()).decode()}"
    )

    past_end = requests.get(url, params={"alt": "media"}, headers={"Range": f"bytes={len(data)}-"}, timeout=10)
    assert past_end.status_code == 416
    assert past_end.headers["Content-Range"] == f"bytes */{len(data)}"
    with pytest.raises(exceptions.RequestRangeNotSatisfiable):
        blob.download_as_bytes(start=len(data))

    # The JSON API path with alt=media serves the same bytes.
    via_json = requests.get(f"{emulator.url}/storage/v1/b/{bucket.name}/o/r", params={"alt": "media"}, timeout=10)
    assert via_json.content == data
