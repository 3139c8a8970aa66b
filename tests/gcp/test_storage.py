"""Emulator tier: the source upload streams what the archive produces, over the wire Cloud Storage speaks."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from deployer.gcp import GoogleCloud
from deployer.gcp.storage import SINGLE_REQUEST_MAX, UPLOAD_CHUNK, StorageAdapter
from deployer_emulator.testing import EmulatorHandle


class _Trickle:
    """A stream that hands out at most ``step`` bytes per read, as a producer that is not done yet would."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self.reads = io.BytesIO(data), step, 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        out = bytearray()
        while size < 0 or len(out) < size:
            piece = self._data.read(self._step if size < 0 else min(self._step, size - len(out)))
            if not piece:
                break
            out += piece
        return bytes(out)


def _store(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> tuple[StorageAdapter, str, str]:
    monkeypatch.setenv("DEPLOYER_EMULATOR_URL", emulator.url)
    project = f"st-{uuid.uuid4().hex[:10]}"
    store = GoogleCloud().storage(project)
    bucket = f"{project}_cloudbuild"
    store.create_bucket({"name": bucket, "location": "US"})
    return store, project, bucket


@pytest.mark.parametrize("size", [UPLOAD_CHUNK + 12345, 2 * UPLOAD_CHUNK])
def test_a_large_stream_goes_up_in_resumable_chunks(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    store, _, bucket = _store(emulator, monkeypatch)
    data = os.urandom(size)
    emulator.mark()
    stored = store.upload_stream(bucket, "source/big.tgz", _Trickle(data, 1 << 20), "application/gzip")
    calls = [(r["method"], r["path"]) for r in emulator.requests()]
    assert calls[0] == ("POST", f"/upload/storage/v1/b/{bucket}/o")
    chunks = [call for call in calls[1:] if call[0] == "PUT"]
    # 8 MiB chunks; an exact multiple ends with an empty chunk that only declares the total.
    assert len(chunks) == (size // UPLOAD_CHUNK) + 1
    assert stored.size == size
    assert store.read_from(bucket, "source/big.tgz", 0) == data


def test_a_small_stream_is_one_request(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, bucket = _store(emulator, monkeypatch)
    data = os.urandom(SINGLE_REQUEST_MAX - 1)
    emulator.mark()
    store.upload_stream(bucket, "source/small.tgz", _Trickle(data, 1 << 20), "application/gzip")
    assert [(r["method"], r["path"]) for r in emulator.requests()] == [("POST", f"/upload/storage/v1/b/{bucket}/o")]
    assert store.read_from(bucket, "source/small.tgz", 0) == data
