"""Uploads (storage/uploads.py): multipart, resumable sessions, checksums, ifGenerationMatch."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from storage_support import _client, _crc32c, _name


def test_multipart_roundtrip_with_crc32c(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    data = b"line one\r\nline two\nends with CR\r"
    blob = bucket.blob("dir/sub/file name.txt")
    blob.upload_from_string(data, content_type="text/plain")
    assert blob.size == len(data)
    assert blob.crc32c == _crc32c(data)
    assert blob.md5_hash == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert blob.content_type == "text/plain"
    assert int(blob.generation) > 0

    fetched = bucket.get_blob("dir/sub/file name.txt")
    assert fetched is not None
    assert fetched.media_link.startswith(
        f"{emulator.url}/download/storage/v1/b/{bucket.name}/o/dir%2Fsub%2Ffile%20name.txt?generation="
    )
    # The client verifies the crc32c from x-goog-hash on full downloads (DataCorruption otherwise).
    assert fetched.download_as_bytes(checksum="crc32c") == data
    assert fetched.download_as_bytes(checksum="md5") == data

    # The metadata GET with the name %2F-escaped, as the client sends it.
    raw = requests.get(f"{emulator.url}/storage/v1/b/{bucket.name}/o/dir%2Fsub%2Ffile%20name.txt", timeout=10)
    assert raw.status_code == 200
    doc = raw.json()
    assert doc["kind"] == "storage#object"
    assert doc["size"] == str(len(data))
    assert doc["id"] == f"{bucket.name}/dir/sub/file name.txt/{doc['generation']}"


def test_multipart_with_bare_lf_like_gcloud(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    payload = b"\x00\x01binary\nwith LF\r"
    boundary = "===============1234567890=="
    body = (
        (
            f"--{boundary}\nContent-Type: application/json\nMIME-Version: 1.0\n\n"
            f'{{"name": "source/app.tgz"}}\n--{boundary}\nContent-Type: application/gzip\nMIME-Version: 1.0\n'
            "Content-Transfer-Encoding: binary\n\n"
        ).encode()
        + payload
        + f"\n--{boundary}--\n".encode()
    )
    response = requests.post(
        f"{emulator.url}/upload/storage/v1/b/{bucket.name}/o",
        params={"uploadType": "multipart", "alt": "json"},
        data=body,
        headers={"Content-Type": f"multipart/related; boundary='{boundary}'"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["size"] == str(len(payload))
    assert response.json()["contentType"] == "application/gzip"
    assert bucket.blob("source/app.tgz").download_as_bytes() == payload


def test_wrong_client_checksum_is_rejected(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    boundary = "b0undary"
    meta = {"name": "bad.bin", "crc32c": _crc32c(b"something else")}
    body = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(meta)}\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\npayload\r\n--{boundary}--"
    ).encode()
    response = requests.post(
        f"{emulator.url}/upload/storage/v1/b/{bucket.name}/o",
        params={"uploadType": "multipart"},
        data=body,
        headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
        timeout=10,
    )
    assert response.status_code == 400
    assert "doesn't match calculated CRC32C" in response.json()["error"]["message"]
    assert bucket.get_blob("bad.bin") is None


def test_resumable_upload_roundtrip(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    data = os.urandom(9 * 1024 * 1024 + 123)
    blob = bucket.blob("big/archive.bin")
    blob.chunk_size = 256 * 1024 * 8  # 2 MiB chunks: five PUTs
    emulator.mark()
    blob.upload_from_string(data, content_type="application/octet-stream")
    puts = [r for r in emulator.requests() if r["method"] == "PUT" and r["path"].endswith(f"/b/{bucket.name}/o")]
    assert [r["status"] for r in puts] == [308, 308, 308, 308, 200]
    assert blob.size == len(data)
    assert blob.crc32c == _crc32c(data)
    assert bucket.blob("big/archive.bin").download_as_bytes() == data


def test_resumable_session_protocol(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    start = requests.post(
        f"{emulator.url}/resumable/upload/storage/v1/b/{bucket.name}/o",
        params={"uploadType": "resumable", "name": "r.bin"},
        headers={"X-Upload-Content-Type": "application/x-test"},
        timeout=10,
    )
    assert start.status_code == 200
    session = start.headers["Location"]
    assert session.startswith(f"{emulator.url}/resumable/upload/storage/v1/b/{bucket.name}/o?")

    status = requests.put(session, headers={"Content-Range": "bytes */10"}, timeout=10)
    assert status.status_code == 308
    assert "Range" not in status.headers  # nothing persisted yet

    first = requests.put(session, data=b"01234", headers={"Content-Range": "bytes 0-4/*"}, timeout=10)
    assert first.status_code == 308
    assert first.headers["Range"] == "bytes=0-4"
    assert "Location" not in first.headers  # a 308 with Location would make HTTP clients follow it

    query = requests.put(session, headers={"Content-Range": "bytes */10"}, timeout=10)
    assert query.status_code == 308
    assert query.headers["Range"] == "bytes=0-4"

    # A retransmitted overlap is accepted; the object is complete only with the last byte.
    last = requests.put(session, data=b"3456789", headers={"Content-Range": "bytes 3-9/10"}, timeout=10)
    assert last.status_code == 200
    assert last.json()["size"] == "10"
    assert last.json()["contentType"] == "application/x-test"
    assert bucket.blob("r.bin").download_as_bytes() == b"0123456789"


def test_if_generation_match_zero(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    bucket.blob("once").upload_from_string(b"first", if_generation_match=0)
    with pytest.raises(exceptions.PreconditionFailed) as failed:
        bucket.blob("once").upload_from_string(b"second", if_generation_match=0)
    assert '"message": "At least one of the pre-conditions you specified did not hold."' in failed.value.message
    assert '"reason": "conditionNotMet"' in failed.value.message
    assert bucket.blob("once").download_as_bytes() == b"first"

    current = bucket.get_blob("once")
    assert current is not None
    bucket.blob("once").upload_from_string(b"third", if_generation_match=current.generation)
    replaced = bucket.get_blob("once")
    assert replaced is not None
    assert replaced.generation > current.generation
