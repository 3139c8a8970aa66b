"""Cloud Storage's table names, resource schemas, its error shape and small helpers."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import google_crc32c

from deployer_emulator.common import varint
from deployer_emulator.core import Emulator, Request, Response
from deployer_emulator.errors import ApiError

BUCKETS = "storage.buckets"
OBJECTS = "storage.objects"
UPLOADS = "storage.uploads"

_CHUNK = 1024 * 1024

# The Bucket resource's fields, from the JSON API's Bucket schema (storage v1 discovery document, as generated into
# gcloud's googlecloudsdk/generated_clients/apis/storage/v1/storage_v1_messages.py). A name not listed is rejected.
BUCKET_FIELDS: dict[str, type | tuple[type, ...]] = {
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
BUCKET_OUTPUT_ONLY = {
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
OBJECT_FIELDS: dict[str, type | tuple[type, ...]] = {
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
OBJECT_WRITABLE = (
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

STORAGE_CLASSES = {
    "STANDARD",
    "NEARLINE",
    "COLDLINE",
    "ARCHIVE",
    "MULTI_REGIONAL",
    "REGIONAL",
    "DURABLE_REDUCED_AVAILABILITY",
}
# https://cloud.google.com/storage/docs/locations: multi-regions and predefined dual-regions.
MULTI_REGIONS = {"US", "EU", "ASIA"}
DUAL_REGIONS = {"NAM4", "EUR4", "EUR5", "EUR7", "EUR8", "ASIA1"}

# https://cloud.google.com/storage/docs/buckets#naming
BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")

CONTENT_RANGE_RE = re.compile(r"^bytes (?:(?P<first>\d+)-(?P<last>\d+)|\*)/(?P<total>\d+|\*)$")
RANGE_RE = re.compile(r"^bytes=(?P<first>\d*)-(?P<last>\d*)$")

# Python's http.server knows no reason phrase for 308; clients only read the status code.
RESUME_INCOMPLETE = 308
UNSATISFIABLE = (-1, -1)


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


def error_response(exc: StorageError, headers: dict[str, str] | None = None) -> Response:
    response = Response.json(exc.to_json(), exc.http_status)
    response.headers.update(headers or {})
    return response


def bucket_not_found() -> StorageError:
    return StorageError(404, "notFound", "The specified bucket does not exist.")


def require_bucket(emulator: Emulator, bucket: str) -> None:
    """404 ``notFound`` unless the bucket exists."""
    if bucket not in emulator.state.table(BUCKETS):
        raise bucket_not_found()


def object_not_found(bucket: str, name: str) -> StorageError:
    return StorageError(404, "notFound", f"No such object: {bucket}/{name}")


def precondition_failed() -> StorageError:
    return StorageError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")


def required(parameter: str) -> StorageError:
    return StorageError(400, "required", f"Required parameter: {parameter}", location=parameter)


# -- small helpers -------------------------------------------------------------------------------------------------
def now() -> str:
    # The JSON API answers RFC 3339 with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def object_etag(generation: int, metageneration: int) -> str:
    # Google's object etags are base64 of a small protobuf {1: generation, 2: metageneration}, e.g. "CKih16GjycICEAE=".
    return base64.b64encode(b"\x08" + varint(generation) + b"\x10" + varint(metageneration)).decode()


def bucket_etag(metageneration: int) -> str:
    return base64.b64encode(b"\x08" + varint(metageneration)).decode()  # e.g. "CAE=" for metageneration 1


def crc32c_b64(value: int) -> str:
    # https://cloud.google.com/storage/docs/json_api/v1/objects: crc32c is base64 of the big-endian uint32.
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def new_generation(previous: int = 0) -> int:
    # Generations are microsecond timestamps on Google's side and strictly increase per object.
    return max(time.time_ns() // 1000, previous + 1)


def blob_root(emulator: Emulator) -> Path:
    root = emulator.blob_dir / "storage"
    (root / "objects").mkdir(parents=True, exist_ok=True)
    (root / "uploads").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    return root


def object_file(emulator: Emulator, bucket: str, name: str) -> Path:
    digest = hashlib.sha256(f"{bucket}\x00{name}".encode()).hexdigest()
    return blob_root(emulator) / "objects" / digest


def tmp_file(emulator: Emulator) -> Path:
    return blob_root(emulator) / "tmp" / uuid.uuid4().hex


def hash_file(path: Path) -> tuple[int, int, str]:
    """(size, crc32c as int, md5 as base64) of a file, read in chunks."""
    size, crc, md5 = 0, 0, hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            size += len(chunk)
            crc = google_crc32c.extend(crc, chunk)
            md5.update(chunk)
    return size, crc, base64.b64encode(md5.digest()).decode()


def object_key(bucket: str, name: str) -> str:
    return f"{bucket}/{name}"


def _quote_name(name: str) -> str:
    return quote(name, safe="")


def present_bucket(emulator: Emulator, doc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    out["selfLink"] = f"{emulator.base_url}/storage/v1/b/{doc['name']}"
    return out  # type: ignore[no-any-return]


def present_object(emulator: Emulator, doc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    bucket, quoted = doc["bucket"], _quote_name(doc["name"])
    out["selfLink"] = f"{emulator.base_url}/storage/v1/b/{bucket}/o/{quoted}"
    out["mediaLink"] = (
        f"{emulator.base_url}/download/storage/v1/b/{bucket}/o/{quoted}?generation={doc['generation']}&alt=media"
    )
    return out  # type: ignore[no-any-return]


def int_param(req: Request, name: str) -> int | None:
    value = req.param(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise StorageError(400, "invalid", f"Invalid value for {name}: {value}", location=name) from exc


def page_token_encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def page_token_decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise StorageError(400, "invalid", "Invalid page token.", location="pageToken") from exc


def check_fields(doc: dict[str, Any], fields: dict[str, type | tuple[type, ...]], what: str) -> None:
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


def json_body(req: Request) -> dict[str, Any]:
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
