"""The Cloud Storage JSON API surface, through the real google-cloud-storage client (and raw HTTP where a client
would never send the malformed request)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from typing import Any

import google_crc32c
import pytest
import requests
from google.api_core import exceptions
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


def test_bucket_create_get_and_conflicts(emulator: Any) -> None:
    client = _client(emulator, "proj-a")
    name = _name()
    created = client.create_bucket(name)
    assert created.name == name
    assert created.location == "US"
    assert created.storage_class == "STANDARD"
    assert created.metageneration == 1

    raw = requests.get(f"{emulator.url}/storage/v1/b/{name}", timeout=10).json()
    assert raw["kind"] == "storage#bucket"
    assert raw["id"] == name
    assert raw["projectNumber"].isdigit()
    assert len(raw["projectNumber"]) == 12
    assert raw["selfLink"] == f"{emulator.url}/storage/v1/b/{name}"
    assert raw["timeCreated"].endswith("Z")
    assert raw["updated"] == raw["timeCreated"]
    assert raw["etag"] == "CAE="

    with pytest.raises(exceptions.Conflict) as same_owner:
        client.create_bucket(name)
    assert "you already own it" in same_owner.value.message

    with pytest.raises(exceptions.Conflict) as other_owner:
        _client(emulator, "proj-b").create_bucket(name)
    assert "The requested bucket name is not available" in other_owner.value.message

    # Listing is per project: the other project does not see it.
    assert name in [b.name for b in client.list_buckets(prefix=name)]
    assert name not in [b.name for b in _client(emulator, "proj-b").list_buckets(prefix=name)]


def test_bucket_location_and_missing_bucket(emulator: Any) -> None:
    client = _client(emulator)
    name = _name()
    bucket = client.create_bucket(name, location="us-central1")
    assert bucket.location == "US-CENTRAL1"
    assert bucket.location_type == "region"
    with pytest.raises(exceptions.NotFound) as missing:
        client.get_bucket(_name("absent"))
    assert missing.value.message.endswith(": The specified bucket does not exist.")


@pytest.mark.parametrize("bad", ["ab", "Upper-case", "-leading", "trailing-", "goog-bucket", "my-google-bucket"])
def test_bucket_name_rules(emulator: Any, bad: str) -> None:
    response = requests.post(f"{emulator.url}/storage/v1/b", params={"project": "p"}, json={"name": bad}, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == f"Invalid bucket name: '{bad}'"
    assert error["errors"][0]["reason"] == "invalid"


def test_unknown_bucket_field_is_rejected(emulator: Any) -> None:
    name = _name()
    response = requests.post(
        f"{emulator.url}/storage/v1/b", params={"project": "p"}, json={"name": name, "locaton": "EU"}, timeout=10
    )
    assert response.status_code == 400
    assert 'Unknown name "locaton"' in response.json()["error"]["message"]
    wrong_type = requests.post(
        f"{emulator.url}/storage/v1/b", params={"project": "p"}, json={"name": name, "labels": "x"}, timeout=10
    )
    assert wrong_type.status_code == 400
    # Nothing was created by either request.
    assert requests.get(f"{emulator.url}/storage/v1/b/{name}", timeout=10).status_code == 404


def test_project_is_required(emulator: Any) -> None:
    response = requests.post(f"{emulator.url}/storage/v1/b", json={"name": _name()}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["reason"] == "required"


def test_delete_bucket_must_be_empty(emulator: Any) -> None:
    client = _client(emulator)
    bucket = client.create_bucket(_name())
    bucket.blob("x").upload_from_string(b"x")
    with pytest.raises(exceptions.Conflict) as not_empty:
        bucket.delete()
    assert not_empty.value.message.endswith(": The bucket you tried to delete is not empty.")
    bucket.blob("x").delete()
    bucket.delete()
    with pytest.raises(exceptions.NotFound):
        client.get_bucket(bucket.name)


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


def test_list_objects_prefix_delimiter_and_pages(emulator: Any) -> None:
    client = _client(emulator)
    bucket = client.create_bucket(_name())
    for name in ["a.txt", "dir/1.txt", "dir/2.txt", "dir/sub/3.txt", "other/4.txt", "z.txt"]:
        bucket.blob(name).upload_from_string(name.encode())

    top = client.list_blobs(bucket.name, delimiter="/")
    assert [b.name for b in top] == ["a.txt", "z.txt"]
    assert top.prefixes == {"dir/", "other/"}

    inside = client.list_blobs(bucket.name, prefix="dir/", delimiter="/")
    assert [b.name for b in inside] == ["dir/1.txt", "dir/2.txt"]
    assert inside.prefixes == {"dir/sub/"}

    pages = list(client.list_blobs(bucket.name, max_results=None, page_size=2).pages)
    assert [[b.name for b in page] for page in pages] == [
        ["a.txt", "dir/1.txt"],
        ["dir/2.txt", "dir/sub/3.txt"],
        ["other/4.txt", "z.txt"],
    ]


def test_delete_object_and_missing_object(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    bucket.blob("gone").upload_from_string(b"x")
    bucket.blob("gone").delete()
    with pytest.raises(exceptions.NotFound) as missing:
        bucket.blob("gone").download_as_bytes()
    assert f"No such object: {bucket.name}/gone" in missing.value.message
