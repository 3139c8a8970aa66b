"""Cloud Storage JSON API v1: buckets, objects, media/multipart/resumable uploads, ranged downloads.

Routes (https://cloud.google.com/storage/docs/json_api/v1):
  ``/storage/v1/b`` (insert, list), ``/storage/v1/b/{bucket}`` (get, patch, delete),
  ``/storage/v1/b/{bucket}/o`` (list), ``/storage/v1/b/{bucket}/o/{object}`` (get, ``?alt=media``, patch, delete),
  ``/upload/storage/v1/b/{bucket}/o`` and gcloud's ``/resumable/upload/storage/v1/b/{bucket}/o`` (uploads and
  resumable sessions), ``/download/storage/v1/b/{bucket}/o/{object}?alt=media`` (the ``mediaLink`` form).

Object contents live as files under ``emulator.blob_dir / "storage"`` (one file per object, replaced atomically on
overwrite, appended in place by ``append_object``); the JSON state holds only the metadata documents, as Google
returns them minus ``selfLink``/``mediaLink``, which are derived from ``emulator.base_url`` when answering.

In-process helpers for the other surfaces (Cloud Build reads sources and writes its logs with them):

- ``ensure_bucket(emulator, bucket, project, location="US") -> dict``: the bucket document, created if missing (no
  name validation: Google-owned names such as ``NUMBER.cloudbuild-logs.googleusercontent.com`` are allowed here).
- ``bucket_exists(emulator, bucket) -> bool``
- ``get_object(emulator, bucket, name) -> dict``: the object's metadata document; ApiError 404 when absent.
- ``read_object_path(emulator, bucket, name) -> Path``: the file holding the object's bytes; ApiError 404 when absent.
- ``put_object(emulator, bucket, name, data: bytes, content_type: str) -> dict``: create or replace an object (the
  bucket must exist: ``ensure_bucket`` first); returns the object document.
- ``append_object(emulator, bucket, name, data: bytes) -> None``: append to an object (created as text when absent);
  bumps the generation and updates size and hashes, so a reader tailing it with ``Range: bytes=N-`` sees it grow.
- ``parse_gs_url(url) -> (bucket, object_prefix)``: ``gs://b/some/prefix`` -> ``("b", "some/prefix")``.

Errors use the JSON API's own shape (``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}``,
https://cloud.google.com/storage/docs/json_api/v1/status-codes), not the ``status`` form of the newer APIs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from urllib.parse import quote

import google_crc32c

from deployer_emulator.core import Emulator, Request, Response
from deployer_emulator.errors import ApiError

BUCKETS = "storage.buckets"
OBJECTS = "storage.objects"
UPLOADS = "storage.uploads"

_CHUNK = 1024 * 1024

# The Bucket resource's fields, from the JSON API's Bucket schema (storage v1 discovery document, as generated into
# gcloud's googlecloudsdk/generated_clients/apis/storage/v1/storage_v1_messages.py). A name not listed is rejected.
_BUCKET_FIELDS: dict[str, type | tuple[type, ...]] = {
    "acl": list,
    "autoclass": dict,
    "billing": dict,
    "cors": list,
    "customPlacementConfig": dict,
    "defaultEventBasedHold": bool,
    "defaultObjectAcl": list,
    "encryption": dict,
    "etag": str,
    "generation": (str, int),
    "hardDeleteTime": str,
    "hierarchicalNamespace": dict,
    "iamConfiguration": dict,
    "id": str,
    "ipFilter": dict,
    "kind": str,
    "labels": dict,
    "lifecycle": dict,
    "location": str,
    "locationType": str,
    "logging": dict,
    "metageneration": (str, int),
    "name": str,
    "objectRetention": dict,
    "owner": dict,
    "projectNumber": (str, int),
    "retentionPolicy": dict,
    "rpo": str,
    "satisfiesPZI": bool,
    "satisfiesPZS": bool,
    "selfLink": str,
    "softDeletePolicy": dict,
    "softDeleteTime": str,
    "storageClass": str,
    "timeCreated": str,
    "updated": str,
    "versioning": dict,
    "website": dict,
}
# Output-only Bucket fields: accepted in a request body (clients send back what they read) and ignored.
_BUCKET_OUTPUT_ONLY = {
    "etag",
    "generation",
    "hardDeleteTime",
    "id",
    "kind",
    "locationType",
    "metageneration",
    "owner",
    "projectNumber",
    "satisfiesPZI",
    "satisfiesPZS",
    "selfLink",
    "softDeleteTime",
    "timeCreated",
    "updated",
}

# The Object resource's fields (same source as above).
_OBJECT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "acl": list,
    "bucket": str,
    "cacheControl": str,
    "componentCount": int,
    "contentDisposition": str,
    "contentEncoding": str,
    "contentLanguage": str,
    "contentType": str,
    "crc32c": str,
    "customTime": str,
    "customerEncryption": dict,
    "etag": str,
    "eventBasedHold": bool,
    "generation": (str, int),
    "hardDeleteTime": str,
    "id": str,
    "kind": str,
    "kmsKeyName": str,
    "md5Hash": str,
    "mediaLink": str,
    "metadata": dict,
    "metageneration": (str, int),
    "name": str,
    "owner": dict,
    "restoreToken": str,
    "retention": dict,
    "retentionExpirationTime": str,
    "selfLink": str,
    "size": (str, int),
    "softDeleteTime": str,
    "storageClass": str,
    "temporaryHold": bool,
    "timeCreated": str,
    "timeDeleted": str,
    "timeFinalized": str,
    "timeStorageClassUpdated": str,
    "updated": str,
}
# Object fields a client may set; the rest are computed by the service and ignored on input.
_OBJECT_WRITABLE = (
    "cacheControl",
    "contentDisposition",
    "contentEncoding",
    "contentLanguage",
    "contentType",
    "customTime",
    "metadata",
    "temporaryHold",
    "eventBasedHold",
    "retention",
)

_STORAGE_CLASSES = {
    "STANDARD",
    "NEARLINE",
    "COLDLINE",
    "ARCHIVE",
    "MULTI_REGIONAL",
    "REGIONAL",
    "DURABLE_REDUCED_AVAILABILITY",
}
# https://cloud.google.com/storage/docs/locations: multi-regions and predefined dual-regions.
_MULTI_REGIONS = {"US", "EU", "ASIA"}
_DUAL_REGIONS = {"NAM4", "EUR4", "EUR5", "EUR7", "EUR8", "ASIA1"}

# https://cloud.google.com/storage/docs/buckets#naming
_BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")

_CONTENT_RANGE_RE = re.compile(r"^bytes (?:(?P<first>\d+)-(?P<last>\d+)|\*)/(?P<total>\d+|\*)$")
_RANGE_RE = re.compile(r"^bytes=(?P<first>\d*)-(?P<last>\d*)$")

# Python's http.server knows no reason phrase for 308; clients only read the status code.
_RESUME_INCOMPLETE = 308
_UNSATISFIABLE = (-1, -1)


class StorageError(ApiError):
    """An error in the JSON API's shape: ``code``, ``message`` and the legacy ``errors`` list with a ``reason``."""

    _STATUS_BY_HTTP: ClassVar[dict[int, str]] = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        412: "FAILED_PRECONDITION",
        416: "OUT_OF_RANGE",
        499: "CANCELLED",
        503: "UNAVAILABLE",
    }

    def __init__(self, http_status: int, reason: str, message: str, *, location: str | None = None) -> None:
        super().__init__(self._STATUS_BY_HTTP.get(http_status, "UNKNOWN"), message, http_status=http_status)
        self.reason = reason
        self.location = location

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"message": self.message, "domain": "global", "reason": self.reason}
        if self.location:
            entry.update(locationType="parameter", location=self.location)
        return {"error": {"code": self.http_status, "message": self.message, "errors": [entry]}}


def _error_response(exc: StorageError, headers: dict[str, str] | None = None) -> Response:
    response = Response.json(exc.to_json(), exc.http_status)
    response.headers.update(headers or {})
    return response


def _bucket_not_found() -> StorageError:
    return StorageError(404, "notFound", "The specified bucket does not exist.")


def _object_not_found(bucket: str, name: str) -> StorageError:
    return StorageError(404, "notFound", f"No such object: {bucket}/{name}")


def _precondition_failed() -> StorageError:
    return StorageError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")


def _required(parameter: str) -> StorageError:
    return StorageError(400, "required", f"Required parameter: {parameter}", location=parameter)


# -- small helpers -------------------------------------------------------------------------------------------------
def _now() -> str:
    # The JSON API answers RFC 3339 with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _object_etag(generation: int, metageneration: int) -> str:
    # Google's object etags are base64 of a small protobuf {1: generation, 2: metageneration}, e.g. "CKih16GjycICEAE=".
    return base64.b64encode(b"\x08" + _varint(generation) + b"\x10" + _varint(metageneration)).decode()


def _bucket_etag(metageneration: int) -> str:
    return base64.b64encode(b"\x08" + _varint(metageneration)).decode()  # e.g. "CAE=" for metageneration 1


def _crc32c_b64(value: int) -> str:
    # https://cloud.google.com/storage/docs/json_api/v1/objects: crc32c is base64 of the big-endian uint32.
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def _new_generation(previous: int = 0) -> int:
    # Generations are microsecond timestamps on Google's side and strictly increase per object.
    return max(time.time_ns() // 1000, previous + 1)


def _blob_root(emulator: Emulator) -> Path:
    root = emulator.blob_dir / "storage"
    (root / "objects").mkdir(parents=True, exist_ok=True)
    (root / "uploads").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    return root


def _object_file(emulator: Emulator, bucket: str, name: str) -> Path:
    digest = hashlib.sha256(f"{bucket}\x00{name}".encode()).hexdigest()
    return _blob_root(emulator) / "objects" / digest


def _tmp_file(emulator: Emulator) -> Path:
    return _blob_root(emulator) / "tmp" / uuid.uuid4().hex


def _hash_file(path: Path) -> tuple[int, int, str]:
    """(size, crc32c as int, md5 as base64) of a file, read in chunks."""
    size, crc, md5 = 0, 0, hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            size += len(chunk)
            crc = google_crc32c.extend(crc, chunk)
            md5.update(chunk)
    return size, crc, base64.b64encode(md5.digest()).decode()


def _object_key(bucket: str, name: str) -> str:
    return f"{bucket}/{name}"


def _quote_name(name: str) -> str:
    return quote(name, safe="")


def _present_bucket(emulator: Emulator, doc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    out["selfLink"] = f"{emulator.base_url}/storage/v1/b/{doc['name']}"
    return out  # type: ignore[no-any-return]


def _present_object(emulator: Emulator, doc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    bucket, quoted = doc["bucket"], _quote_name(doc["name"])
    out["selfLink"] = f"{emulator.base_url}/storage/v1/b/{bucket}/o/{quoted}"
    out["mediaLink"] = (
        f"{emulator.base_url}/download/storage/v1/b/{bucket}/o/{quoted}?generation={doc['generation']}&alt=media"
    )
    return out  # type: ignore[no-any-return]


def _int_param(req: Request, name: str) -> int | None:
    value = req.param(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise StorageError(400, "invalid", f"Invalid value for {name}: {value}", location=name) from exc


def _page_token_encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _page_token_decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise StorageError(400, "invalid", "Invalid page token.", location="pageToken") from exc


def _check_fields(doc: dict[str, Any], fields: dict[str, type | tuple[type, ...]], what: str) -> None:
    """Reject unknown names and wrong JSON types at the top level, as Google's JSON front end does."""
    for key, value in doc.items():
        expected = fields.get(key)
        if expected is None:
            raise StorageError(
                400, "invalid", f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
        if value is None:
            continue
        if isinstance(value, bool) and expected is not bool and not (isinstance(expected, tuple) and bool in expected):
            raise StorageError(400, "invalid", f"Invalid value for field '{what}.{key}': {json.dumps(value)}")
        if not isinstance(value, expected):
            raise StorageError(400, "invalid", f"Invalid value for field '{what}.{key}': {json.dumps(value)}")


def _json_body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        doc = json.loads(req.body)
    except ValueError as exc:
        raise StorageError(400, "parseError", f"Parse Error: {exc}") from exc
    if not isinstance(doc, dict):
        raise StorageError(400, "parseError", "Parse Error: expected a JSON object")
    return doc


def parse_gs_url(url: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix`` -> ``("bucket", "some/prefix")``; a bare bucket name is accepted too."""
    rest = url[5:] if url.startswith("gs://") else url
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


# -- in-process helpers --------------------------------------------------------------------------------------------
def bucket_exists(emulator: Emulator, bucket: str) -> bool:
    with emulator.state.lock:
        return bucket in emulator.state.table(BUCKETS)


def ensure_bucket(emulator: Emulator, bucket: str, project: str, location: str = "US") -> dict[str, Any]:
    """The bucket's document, creating it for ``project`` when missing (no name rules: internal callers only)."""
    with emulator.mutation():
        existing = emulator.state.table(BUCKETS).get(bucket)
        if existing is None:
            existing = _new_bucket_doc(emulator, bucket, project, {"location": location})
            emulator.state.table(BUCKETS)[bucket] = existing
        return _present_bucket(emulator, existing)


def get_object(emulator: Emulator, bucket: str, name: str) -> dict[str, Any]:
    with emulator.state.lock:
        if bucket not in emulator.state.table(BUCKETS):
            raise _bucket_not_found()
        doc = emulator.state.table(OBJECTS).get(_object_key(bucket, name))
        if doc is None:
            raise _object_not_found(bucket, name)
        return _present_object(emulator, doc)


def read_object_path(emulator: Emulator, bucket: str, name: str) -> Path:
    get_object(emulator, bucket, name)
    return _object_file(emulator, bucket, name)


def put_object(emulator: Emulator, bucket: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
    tmp = _tmp_file(emulator)
    tmp.write_bytes(data)
    return _commit_object(emulator, bucket, name, tmp, {"contentType": content_type}, preconditions={})


def append_object(emulator: Emulator, bucket: str, name: str, data: bytes) -> None:
    key = _object_key(bucket, name)
    path = _object_file(emulator, bucket, name)
    with emulator.mutation():
        if bucket not in emulator.state.table(BUCKETS):
            raise _bucket_not_found()
        objects = emulator.state.table(OBJECTS)
        doc = objects.get(key)
        if doc is None:
            path.write_bytes(b"")
            empty_md5 = base64.b64encode(hashlib.md5(b"", usedforsecurity=False).digest()).decode()
            doc = _new_object_doc(bucket, name, {"contentType": "text/plain; charset=utf-8"}, 0, 0, empty_md5, None)
            objects[key] = doc
        with path.open("ab") as fh:
            fh.write(data)
        # md5 cannot be extended from a digest: rehash the file (build logs are small).
        size, crc, md5 = _hash_file(path)
        generation = _new_generation(int(doc["generation"]))
        now = _now()
        doc.update(
            generation=str(generation),
            metageneration="1",
            size=str(size),
            crc32c=_crc32c_b64(crc),
            md5Hash=md5,
            id=f"{bucket}/{name}/{generation}",
            etag=_object_etag(generation, 1),
            updated=now,
            timeFinalized=now,
        )


# -- documents -----------------------------------------------------------------------------------------------------
def _project_number(emulator: Emulator, project: str) -> str:
    return project if project.isdigit() else emulator.project_number(project)


def _new_bucket_doc(emulator: Emulator, name: str, project: str, body: dict[str, Any]) -> dict[str, Any]:
    now = _now()
    location = str(body.get("location") or "US").upper()
    if location in _MULTI_REGIONS:
        location_type = "multi-region"
    elif location in _DUAL_REGIONS:
        location_type = "dual-region"
    else:
        location_type = "region"
    doc: dict[str, Any] = {
        "kind": "storage#bucket",
        "id": name,
        "name": name,
        "projectNumber": _project_number(emulator, project),
        "generation": str(_new_generation()),
        "metageneration": "1",
        "location": location,
        "locationType": location_type,
        "storageClass": str(body.get("storageClass") or "STANDARD").upper(),
        "etag": _bucket_etag(1),
        "timeCreated": now,
        "updated": now,
        "rpo": "DEFAULT",
        # Defaults a new bucket shows (https://cloud.google.com/storage/docs/soft-delete: 7 days by default).
        "softDeletePolicy": {"retentionDurationSeconds": "604800", "effectiveTime": now},
        "iamConfiguration": {
            "bucketPolicyOnly": {"enabled": False},
            "uniformBucketLevelAccess": {"enabled": False},
            "publicAccessPrevention": "inherited",
        },
    }
    for key, value in body.items():
        if key in _BUCKET_OUTPUT_ONLY or key in ("name", "location", "storageClass"):
            continue
        if key == "iamConfiguration" and isinstance(value, dict):
            merged = dict(doc["iamConfiguration"])
            merged.update(value)
            ubla = merged.get("uniformBucketLevelAccess") or {}
            # bucketPolicyOnly is the old name of uniformBucketLevelAccess: Google keeps both in step.
            merged["bucketPolicyOnly"] = dict(ubla)
            if ubla.get("enabled"):
                merged["uniformBucketLevelAccess"] = {**ubla, "lockedTime": now}
                merged["bucketPolicyOnly"] = {**ubla, "lockedTime": now}
            doc["iamConfiguration"] = merged
        elif key == "softDeletePolicy" and isinstance(value, dict):
            doc["softDeletePolicy"] = {**value, "effectiveTime": now}
        else:
            doc[key] = value
    return doc


def _new_object_doc(
    bucket: str,
    name: str,
    metadata: dict[str, Any],
    size: int,
    crc: int,
    md5: str,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    generation = _new_generation(int(previous["generation"]) if previous else 0)
    now = _now()
    doc: dict[str, Any] = {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{generation}",
        "name": name,
        "bucket": bucket,
        "generation": str(generation),
        "metageneration": "1",
        "contentType": metadata.get("contentType") or "application/octet-stream",
        "storageClass": "STANDARD",
        "size": str(size),
        "md5Hash": md5,
        "crc32c": _crc32c_b64(crc),
        "etag": _object_etag(generation, 1),
        "timeCreated": now,
        "updated": now,
        "timeStorageClassUpdated": now,
        "timeFinalized": now,
    }
    for key in _OBJECT_WRITABLE:
        if key != "contentType" and metadata.get(key) is not None:
            doc[key] = metadata[key]
    return doc


def _validate_object_name(name: str | None) -> str:
    # https://cloud.google.com/storage/docs/objects#naming
    if not name:
        raise _required("name")
    if len(name.encode()) > 1024 or "\r" in name or "\n" in name or name in (".", ".."):
        raise StorageError(400, "invalid", "The specified object name is not valid.")
    return name


def _check_preconditions(doc: dict[str, Any] | None, preconditions: dict[str, int | None], *, read: bool) -> None:
    """ifGenerationMatch (0 = must not exist), ifGenerationNotMatch, ifMetagenerationMatch/NotMatch.

    https://cloud.google.com/storage/docs/request-preconditions: a failed *Match is 412; on reads a failed *NotMatch
    is 304 Not Modified.
    """
    generation = int(doc["generation"]) if doc else 0
    metageneration = int(doc["metageneration"]) if doc else 0
    match = preconditions.get("ifGenerationMatch")
    if match is not None and match != generation:
        raise _precondition_failed()
    not_match = preconditions.get("ifGenerationNotMatch")
    if not_match is not None and not_match == generation:
        if read:
            raise StorageError(304, "notModified", "Not Modified")
        raise _precondition_failed()
    meta_match = preconditions.get("ifMetagenerationMatch")
    if meta_match is not None and (doc is None or meta_match != metageneration):
        raise _precondition_failed()
    meta_not_match = preconditions.get("ifMetagenerationNotMatch")
    if meta_not_match is not None and doc is not None and meta_not_match == metageneration:
        if read:
            raise StorageError(304, "notModified", "Not Modified")
        raise _precondition_failed()


def _preconditions(req: Request) -> dict[str, int | None]:
    names = ("ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch")
    return {name: _int_param(req, name) for name in names}


def _commit_object(
    emulator: Emulator,
    bucket: str,
    name: str,
    tmp: Path,
    metadata: dict[str, Any],
    *,
    preconditions: dict[str, int | None],
) -> dict[str, Any]:
    """Verify client checksums, check preconditions, and move ``tmp`` into place as the object's new generation."""
    try:
        size, crc, md5 = _hash_file(tmp)
        # Uploads carrying crc32c/md5Hash in their metadata are verified (https://cloud.google.com/storage/docs/
        # data-validation); a mismatch is a 400 and nothing is stored.
        sent_crc = metadata.get("crc32c")
        if sent_crc and sent_crc != _crc32c_b64(crc):
            raise StorageError(
                400,
                "invalid",
                f'Provided CRC32C "{sent_crc}" doesn\'t match calculated CRC32C "{_crc32c_b64(crc)}".',
            )
        sent_md5 = metadata.get("md5Hash")
        if sent_md5 and sent_md5 != md5:
            raise StorageError(
                400, "invalid", f'Provided MD5 hash "{sent_md5}" doesn\'t match calculated MD5 hash "{md5}".'
            )
        with emulator.mutation():
            if bucket not in emulator.state.table(BUCKETS):
                raise _bucket_not_found()
            objects = emulator.state.table(OBJECTS)
            key = _object_key(bucket, name)
            previous = objects.get(key)
            _check_preconditions(previous, preconditions, read=False)
            doc = _new_object_doc(bucket, name, metadata, size, crc, md5, previous)
            os.replace(tmp, _object_file(emulator, bucket, name))
            objects[key] = doc
            return _present_object(emulator, doc)
    finally:
        tmp.unlink(missing_ok=True)


def _object_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    _check_fields(doc, _OBJECT_FIELDS, "resource")
    metadata = doc.get("metadata")
    if metadata is not None and not all(isinstance(v, str) or v is None for v in metadata.values()):
        raise StorageError(400, "invalid", "Invalid value for field 'resource.metadata': values must be strings")
    return doc


# -- multipart/related ---------------------------------------------------------------------------------------------
def _parse_multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/related body into (headers, payload) parts.

    The Python client writes CRLF line endings; gcloud's apitools writes bare LF (email.generator) and quotes the
    boundary with single quotes (``boundary='===...=='``). The line-ending style is taken from the first delimiter
    line and used for every part, so a payload ending in ``\\r`` survives LF-style bodies.
    """
    match = re.search(r"boundary=(?:\"([^\"]+)\"|'([^']+)'|([^;\s]+))", content_type)
    if match is None:
        raise StorageError(400, "invalid", "Missing boundary in multipart body.")
    boundary = ("--" + next(g for g in match.groups() if g)).encode()
    first = body.find(boundary)
    if first < 0:
        raise StorageError(400, "invalid", "Malformed multipart body.")
    after = first + len(boundary)
    newline = b"\r\n" if body[after : after + 2] == b"\r\n" else b"\n"
    parts: list[tuple[dict[str, str], bytes]] = []
    position = first
    while True:
        start = position + len(boundary)
        if body[start : start + 2] == b"--":
            break  # the closing delimiter
        if not body.startswith(newline, start):
            raise StorageError(400, "invalid", "Malformed multipart body.")
        start += len(newline)
        next_delimiter = body.find(newline + boundary, start)
        if next_delimiter < 0:
            raise StorageError(400, "invalid", "Malformed multipart body: no closing boundary.")
        part = body[start:next_delimiter]
        head, separator, payload = part.partition(newline + newline)
        if not separator:
            if part.startswith(newline):  # a part without headers
                head, payload = b"", part[len(newline) :]
            else:
                raise StorageError(400, "invalid", "Malformed multipart body.")
        headers: dict[str, str] = {}
        for line in head.split(newline):
            if b":" in line:
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload))
        position = next_delimiter + len(newline)
    return parts


# -- ranged reads --------------------------------------------------------------------------------------------------
def _media_response(emulator: Emulator, req: Request, bucket: str, name: str) -> Response:
    generation = _int_param(req, "generation")
    preconditions = _preconditions(req)
    path = _object_file(emulator, bucket, name)
    with emulator.state.lock:
        if bucket not in emulator.state.table(BUCKETS):
            raise _bucket_not_found()
        stored = emulator.state.table(OBJECTS).get(_object_key(bucket, name))
        if stored is None or (generation is not None and int(stored["generation"]) != generation):
            raise _object_not_found(bucket, name)
        try:
            _check_preconditions(stored, preconditions, read=True)
        except StorageError as exc:
            if exc.http_status == 304:
                return Response(304, b"", {})
            raise
        doc = dict(stored)
        # Opened under the lock with the snapshot: a replacement (os.replace) cannot swap the bytes under us, and an
        # append only adds bytes past the snapshot's size, which are not read.
        fh: BinaryIO = path.open("rb")
    with fh:
        size = int(doc["size"])
        headers = {
            "Content-Type": doc.get("contentType") or "application/octet-stream",
            "ETag": doc["etag"],
            "X-Goog-Generation": doc["generation"],
            "X-Goog-Metageneration": doc["metageneration"],
            "X-Goog-Hash": f"crc32c={doc['crc32c']},md5={doc['md5Hash']}",
            "X-Goog-Stored-Content-Length": str(size),
            "X-Goog-Stored-Content-Encoding": doc.get("contentEncoding") or "identity",
            "X-Goog-Storage-Class": doc.get("storageClass", "STANDARD"),
            "Accept-Ranges": "bytes",
            "Last-Modified": datetime.strptime(doc["updated"], "%Y-%m-%dT%H:%M:%S.%fZ").strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            ),
        }
        range_header = req.headers.get("range", "").strip()
        span = _parse_range(range_header, size) if range_header else None
        if span is None:
            return Response(200, fh.read(size), headers)
        if span == _UNSATISFIABLE:
            # RFC 9110 §15.5.17; the Python client raises RequestRangeNotSatisfiable, gcloud's log tailer waits.
            error = StorageError(416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied.")
            return _error_response(error, {"Content-Range": f"bytes */{size}"})
        first, last = span
        fh.seek(first)
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return Response(206, fh.read(last - first + 1), headers)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=N-``, ``bytes=N-M``, ``bytes=-K`` -> (first, last); _UNSATISFIABLE; None to serve the whole object."""
    match = _RANGE_RE.match(header.replace(" ", ""))
    if match is None:
        return None  # unparseable or multiple ranges: RFC 9110 lets a server ignore Range
    first_s, last_s = match["first"], match["last"]
    if not first_s and not last_s:
        return None
    if not first_s:
        suffix = int(last_s)
        if suffix == 0:
            return _UNSATISFIABLE
        return (max(size - suffix, 0), size - 1) if size else _UNSATISFIABLE
    first = int(first_s)
    if first >= size:
        return _UNSATISFIABLE
    last = min(int(last_s), size - 1) if last_s else size - 1
    if last < first:
        return None
    return first, last


# -- the HTTP surface ----------------------------------------------------------------------------------------------
def register(emulator: Emulator) -> None:
    router = emulator.router

    # -- buckets --
    def insert_bucket(req: Request) -> Response:
        project = req.param("project")
        if not project:
            raise _required("project")
        body = _json_body(req)
        _check_fields(body, _BUCKET_FIELDS, "resource")
        name = body.get("name")
        if not name:
            raise StorageError(400, "required", "Required")
        _validate_bucket_name(name)
        storage_class = str(body.get("storageClass") or "STANDARD").upper()
        if storage_class not in _STORAGE_CLASSES:
            raise StorageError(400, "invalid", f"Invalid argument: storageClass {storage_class!r} is not valid.")
        emulator.authorize(req, "storage.buckets.create", f"projects/{project}")
        with emulator.mutation():
            buckets = emulator.state.table(BUCKETS)
            existing = buckets.get(name)
            if existing is not None:
                # https://cloud.google.com/storage/docs/json_api/v1/status-codes#409_Conflict
                if existing["projectNumber"] == _project_number(emulator, project):
                    raise StorageError(
                        409,
                        "conflict",
                        "Your previous request to create the named bucket succeeded and you already own it.",
                    )
                raise StorageError(
                    409,
                    "conflict",
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the "
                    "system. Please select a different name and try again.",
                )
            doc = _new_bucket_doc(emulator, name, project, body)
            buckets[name] = doc
            return Response.json(_present_bucket(emulator, doc))

    def list_buckets(req: Request) -> dict[str, Any]:
        project = req.param("project")
        if not project:
            raise _required("project")
        emulator.authorize(req, "storage.buckets.list", f"projects/{project}")
        number = _project_number(emulator, project)
        prefix = req.param("prefix") or ""
        max_results = _int_param(req, "maxResults") or 1000
        after = _page_token_decode(req.param("pageToken") or "") if req.param("pageToken") else None
        with emulator.state.lock:
            docs = [
                doc
                for name, doc in sorted(emulator.state.table(BUCKETS).items())
                if doc["projectNumber"] == number and name.startswith(prefix) and (after is None or name > after)
            ]
        page = docs[:max_results]
        out: dict[str, Any] = {"kind": "storage#buckets", "items": [_present_bucket(emulator, d) for d in page]}
        if len(docs) > max_results:
            out["nextPageToken"] = _page_token_encode(page[-1]["name"])
        return out

    def get_bucket(req: Request, bucket: str) -> dict[str, Any]:
        emulator.authorize(req, "storage.buckets.get", f"projects/_/buckets/{bucket}")
        with emulator.state.lock:
            doc = emulator.state.table(BUCKETS).get(bucket)
            if doc is None:
                raise _bucket_not_found()
            return _present_bucket(emulator, doc)

    def patch_bucket(req: Request, bucket: str) -> dict[str, Any]:
        body = _json_body(req)
        _check_fields(body, _BUCKET_FIELDS, "resource")
        emulator.authorize(req, "storage.buckets.update", f"projects/_/buckets/{bucket}")
        with emulator.mutation():
            doc = emulator.state.table(BUCKETS).get(bucket)
            if doc is None:
                raise _bucket_not_found()
            meta_match = _int_param(req, "ifMetagenerationMatch")
            if meta_match is not None and meta_match != int(doc["metageneration"]):
                raise _precondition_failed()
            for key, value in body.items():
                if key in _BUCKET_OUTPUT_ONLY or key in ("name", "location"):
                    continue
                if value is None:
                    doc.pop(key, None)  # JSON API patch semantics: null clears a field
                else:
                    doc[key] = value
            metageneration = int(doc["metageneration"]) + 1
            doc.update(metageneration=str(metageneration), etag=_bucket_etag(metageneration), updated=_now())
            return _present_bucket(emulator, doc)

    def delete_bucket(req: Request, bucket: str) -> Response:
        emulator.authorize(req, "storage.buckets.delete", f"projects/_/buckets/{bucket}")
        with emulator.mutation():
            buckets = emulator.state.table(BUCKETS)
            if bucket not in buckets:
                raise _bucket_not_found()
            prefix = f"{bucket}/"
            if any(key.startswith(prefix) for key in emulator.state.table(OBJECTS)):
                raise StorageError(409, "conflict", "The bucket you tried to delete is not empty.")
            del buckets[bucket]
        return Response.empty(204)

    # -- objects --
    def list_objects(req: Request, bucket: str) -> dict[str, Any]:
        emulator.authorize(req, "storage.objects.list", f"projects/_/buckets/{bucket}")
        prefix = req.param("prefix") or ""
        delimiter = req.param("delimiter") or ""
        start_offset = req.param("startOffset") or ""
        end_offset = req.param("endOffset") or ""
        include_trailing = req.flag("includeTrailingDelimiter")
        max_results = _int_param(req, "maxResults") or 1000
        after = _page_token_decode(req.param("pageToken") or "") if req.param("pageToken") else None
        with emulator.state.lock:
            if bucket not in emulator.state.table(BUCKETS):
                raise _bucket_not_found()
            key_prefix = f"{bucket}/"
            docs = sorted(
                (doc for key, doc in emulator.state.table(OBJECTS).items() if key.startswith(key_prefix)),
                key=lambda d: d["name"],
            )
            docs = [dict(d) for d in docs]
        items: list[dict[str, Any]] = []
        prefixes: list[str] = []
        emitted = 0
        last_key = ""
        more = False
        for doc in docs:
            name = doc["name"]
            if not name.startswith(prefix) or name < start_offset or (end_offset and name >= end_offset):
                continue
            if after is not None and (
                name <= after or (delimiter and after.endswith(delimiter) and name.startswith(after))
            ):
                continue
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
                if not prefixes or prefixes[-1] != common:
                    if emitted >= max_results:
                        more = True
                        break
                    prefixes.append(common)
                    emitted += 1
                    last_key = common
                # includeTrailingDelimiter: an object whose name ends at the delimiter is listed with its prefix.
                if include_trailing and name == common:
                    items.append(_present_object(emulator, doc))
                continue
            if emitted >= max_results:
                more = True
                break
            items.append(_present_object(emulator, doc))
            emitted += 1
            last_key = name
        out: dict[str, Any] = {"kind": "storage#objects"}
        if items:
            out["items"] = items
        if prefixes:
            out["prefixes"] = prefixes
        if more:
            out["nextPageToken"] = _page_token_encode(last_key)
        return out

    def get_object_route(req: Request, bucket: str, object: str) -> Response | dict[str, Any]:
        emulator.authorize(req, "storage.objects.get", f"projects/_/buckets/{bucket}/objects/{object}")
        if req.param("alt") == "media":
            return _media_response(emulator, req, bucket, object)
        generation = _int_param(req, "generation")
        with emulator.state.lock:
            if bucket not in emulator.state.table(BUCKETS):
                raise _bucket_not_found()
            doc = emulator.state.table(OBJECTS).get(_object_key(bucket, object))
            if doc is None or (generation is not None and int(doc["generation"]) != generation):
                raise _object_not_found(bucket, object)
            try:
                _check_preconditions(doc, _preconditions(req), read=True)
            except StorageError as exc:
                if exc.http_status == 304:
                    return Response(304, b"", {})
                raise
            return _present_object(emulator, doc)

    def download(req: Request, bucket: str, object: str) -> Response:
        emulator.authorize(req, "storage.objects.get", f"projects/_/buckets/{bucket}/objects/{object}")
        return _media_response(emulator, req, bucket, object)

    def patch_object(req: Request, bucket: str, object: str) -> dict[str, Any]:
        body = _object_metadata(_json_body(req))
        emulator.authorize(req, "storage.objects.update", f"projects/_/buckets/{bucket}/objects/{object}")
        with emulator.mutation():
            if bucket not in emulator.state.table(BUCKETS):
                raise _bucket_not_found()
            doc = emulator.state.table(OBJECTS).get(_object_key(bucket, object))
            if doc is None:
                raise _object_not_found(bucket, object)
            _check_preconditions(doc, _preconditions(req), read=False)
            for key in _OBJECT_WRITABLE:
                if key not in body:
                    continue
                if body[key] is None:
                    doc.pop(key, None)
                elif key == "metadata":
                    merged = dict(doc.get("metadata") or {})
                    for meta_key, meta_value in body["metadata"].items():
                        if meta_value is None:
                            merged.pop(meta_key, None)
                        else:
                            merged[meta_key] = meta_value
                    doc["metadata"] = merged
                else:
                    doc[key] = body[key]
            metageneration = int(doc["metageneration"]) + 1
            doc.update(
                metageneration=str(metageneration),
                etag=_object_etag(int(doc["generation"]), metageneration),
                updated=_now(),
            )
            return _present_object(emulator, doc)

    def delete_object(req: Request, bucket: str, object: str) -> Response:
        emulator.authorize(req, "storage.objects.delete", f"projects/_/buckets/{bucket}/objects/{object}")
        generation = _int_param(req, "generation")
        with emulator.mutation():
            if bucket not in emulator.state.table(BUCKETS):
                raise _bucket_not_found()
            objects = emulator.state.table(OBJECTS)
            key = _object_key(bucket, object)
            doc = objects.get(key)
            if doc is None or (generation is not None and int(doc["generation"]) != generation):
                raise _object_not_found(bucket, object)
            _check_preconditions(doc, _preconditions(req), read=False)
            del objects[key]
            _object_file(emulator, bucket, object).unlink(missing_ok=True)
        return Response.empty(204)

    # -- uploads --
    def upload(req: Request, bucket: str) -> Response:
        upload_type = req.param("uploadType")
        if req.param("upload_id"):
            return _resumable_put(req, bucket)
        if upload_type is None:
            raise StorageError(
                400,
                "wrongUrlForUpload",
                "Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/",
            )
        with emulator.state.lock:
            if bucket not in emulator.state.table(BUCKETS):
                raise _bucket_not_found()
        if upload_type == "media":
            name = _validate_object_name(req.param("name"))
            metadata = {"contentType": req.headers.get("content-type") or "application/octet-stream"}
            emulator.authorize(req, "storage.objects.create", f"projects/_/buckets/{bucket}/objects/{name}")
            tmp = _tmp_file(emulator)
            tmp.write_bytes(req.body)
            return Response.json(
                _commit_object(emulator, bucket, name, tmp, metadata, preconditions=_preconditions(req))
            )
        if upload_type == "multipart":
            parts = _parse_multipart(req.headers.get("content-type", ""), req.body)
            if len(parts) != 2:
                raise StorageError(400, "invalid", "Multipart upload must have exactly two parts: metadata and media.")
            (_, meta_bytes), (media_headers, media) = parts
            try:
                meta_doc = json.loads(meta_bytes or b"{}")
            except ValueError as exc:
                raise StorageError(400, "parseError", f"Parse Error: {exc}") from exc
            if not isinstance(meta_doc, dict):
                raise StorageError(400, "parseError", "Parse Error: expected a JSON object")
            metadata = _object_metadata(meta_doc)
            name = _validate_object_name(metadata.get("name") or req.param("name"))
            if not metadata.get("contentType"):
                metadata["contentType"] = media_headers.get("content-type") or "application/octet-stream"
            emulator.authorize(req, "storage.objects.create", f"projects/_/buckets/{bucket}/objects/{name}")
            tmp = _tmp_file(emulator)
            tmp.write_bytes(media)
            return Response.json(
                _commit_object(emulator, bucket, name, tmp, metadata, preconditions=_preconditions(req))
            )
        if upload_type == "resumable":
            return _resumable_start(req, bucket)
        raise StorageError(400, "invalidParameter", f"Invalid upload type: {upload_type}", location="uploadType")

    def _resumable_start(req: Request, bucket: str) -> Response:
        metadata = _object_metadata(_json_body(req))
        name = _validate_object_name(metadata.get("name") or req.param("name"))
        if not metadata.get("contentType"):
            metadata["contentType"] = req.headers.get("x-upload-content-type") or "application/octet-stream"
        total_header = req.headers.get("x-upload-content-length")
        emulator.authorize(req, "storage.objects.create", f"projects/_/buckets/{bucket}/objects/{name}")
        upload_id = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
        session = {
            "bucket": bucket,
            "name": name,
            "metadata": metadata,
            "received": 0,
            "total": int(total_header) if total_header and total_header.isdigit() else None,
            "preconditions": _preconditions(req),
            "created": _now(),
            "result": None,
        }
        (_blob_root(emulator) / "uploads" / upload_id).write_bytes(b"")
        with emulator.mutation():
            emulator.state.table(UPLOADS)[upload_id] = session
        # The session URI is absolute on the emulator's own address: clients PUT to it verbatim.
        prefix = "/resumable" if req.path.startswith("/resumable/") else ""
        location = (
            f"{emulator.base_url}{prefix}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={upload_id}"
        )
        return Response(200, b"", {"Location": location, "X-GUploader-UploadID": upload_id, "Content-Length": "0"})

    def _resumable_put(req: Request, bucket: str) -> Response:
        """One chunk (or a status query) of a resumable session.

        https://cloud.google.com/storage/docs/performing-resumable-uploads: ``Content-Range: bytes A-B/TOTAL`` (TOTAL
        may be ``*`` until the last chunk) or ``bytes */TOTAL`` to ask for the status. The answer is 308 with
        ``Range: bytes=0-N`` (no Range when nothing is persisted) until every byte is in, then 200 with the object.
        """
        upload_id = req.param("upload_id") or ""
        path = _blob_root(emulator) / "uploads" / upload_id
        with emulator.state.lock:
            session = emulator.state.table(UPLOADS).get(upload_id)
            session = json.loads(json.dumps(session)) if session is not None else None
        if session is None or session["bucket"] != bucket:
            raise StorageError(404, "notFound", "No such upload session.")
        if session["result"] is not None:
            return Response.json(session["result"])
        received: int = session["received"]
        content_range = req.headers.get("content-range", "").strip()
        if content_range:
            match = _CONTENT_RANGE_RE.match(content_range)
            if match is None:
                raise StorageError(400, "invalid", f"Failed to parse Content-Range header: {content_range}")
            total = None if match["total"] == "*" else int(match["total"])
            first = int(match["first"]) if match["first"] is not None else None
            last = int(match["last"]) if match["last"] is not None else None
        else:
            # No Content-Range: the body is the whole object.
            first, last, total = (0, len(req.body) - 1, len(req.body)) if req.body else (None, None, 0)
        if total is not None:
            session["total"] = total
        data = req.body
        if first is not None and last is not None:
            if last - first + 1 != len(data):
                raise StorageError(400, "invalid", "The Content-Range does not match the number of bytes sent.")
            if first > received:
                raise StorageError(
                    400,
                    "invalid",
                    f"Invalid request. According to the Content-Range header, the upload offset is {first} byte(s), "
                    f"which exceeds already uploaded size of {received} byte(s).",
                )
            data = data[received - first :]  # a retransmitted overlap is skipped
            if data:
                with path.open("ab") as fh:
                    fh.write(data)
                received += len(data)
        if session["total"] is not None and received > session["total"]:
            raise StorageError(400, "invalid", "The upload exceeds the declared total size.")
        with emulator.mutation():
            stored = emulator.state.table(UPLOADS).get(upload_id)
            if stored is not None:
                stored["received"] = received
                stored["total"] = session["total"]
        if session["total"] is None or received < session["total"]:
            headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
            headers["X-GUploader-UploadID"] = upload_id
            return Response(_RESUME_INCOMPLETE, b"", headers)
        tmp = _tmp_file(emulator)
        os.replace(path, tmp)
        try:
            doc = _commit_object(
                emulator, bucket, session["name"], tmp, session["metadata"], preconditions=session["preconditions"]
            )
        except StorageError:
            with emulator.mutation():
                emulator.state.table(UPLOADS).pop(upload_id, None)
            raise
        with emulator.mutation():
            stored = emulator.state.table(UPLOADS).get(upload_id)
            if stored is not None:
                stored["result"] = doc
        return Response.json(doc)

    def cancel_upload(req: Request, bucket: str) -> Response:
        upload_id = req.param("upload_id") or ""
        with emulator.mutation():
            session = emulator.state.table(UPLOADS).pop(upload_id, None)
        if session is None:
            raise StorageError(404, "notFound", "No such upload session.")
        (_blob_root(emulator) / "uploads" / upload_id).unlink(missing_ok=True)
        # Google answers a cancelled session with 499 (https://cloud.google.com/storage/docs/performing-resumable-uploads).
        return Response(499, b"", {})

    for prefix in ("", "/resumable"):
        router.add("POST", prefix + "/upload/storage/v1/b/{bucket}/o", upload)
        router.add("PUT", prefix + "/upload/storage/v1/b/{bucket}/o", upload)
        router.add("DELETE", prefix + "/upload/storage/v1/b/{bucket}/o", cancel_upload)
    router.add("GET", "/download/storage/v1/b/{bucket}/o/{object=**}", download)
    router.add("POST", "/storage/v1/b", insert_bucket)
    router.add("GET", "/storage/v1/b", list_buckets)
    router.add("GET", "/storage/v1/b/{bucket}", get_bucket)
    router.add("PATCH", "/storage/v1/b/{bucket}", patch_bucket)
    router.add("DELETE", "/storage/v1/b/{bucket}", delete_bucket)
    router.add("GET", "/storage/v1/b/{bucket}/o", list_objects)
    router.add("GET", "/storage/v1/b/{bucket}/o/{object=**}", get_object_route)
    router.add("PATCH", "/storage/v1/b/{bucket}/o/{object=**}", patch_object)
    router.add("DELETE", "/storage/v1/b/{bucket}/o/{object=**}", delete_object)


def _validate_bucket_name(name: str) -> None:
    """https://cloud.google.com/storage/docs/buckets#naming: 3-63 characters (222 with dots, 63 per component),
    lowercase letters, digits, ``-``, ``_`` and ``.``, starting and ending with a letter or digit, not an IP address,
    not starting with "goog" and not containing "google"."""
    components = name.split(".")
    valid = (
        _BUCKET_NAME_RE.match(name) is not None
        and 3 <= len(name) <= (222 if "." in name else 63)
        and all(0 < len(c) <= 63 for c in components)
        and not _IPV4_RE.match(name)
        and not name.startswith("goog")
        and "google" not in name
    )
    if not valid:
        raise StorageError(400, "invalid", f"Invalid bucket name: '{name}'")
