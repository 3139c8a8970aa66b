"""Buckets and objects as documents and files: what the surface and the other surfaces (Cloud Build) write."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from deployer_emulator.core import Emulator, Request
from deployer_emulator.storage import base


# -- in-process helpers --------------------------------------------------------------------------------------------
def bucket_exists(emulator: Emulator, bucket: str) -> bool:
    with emulator.state.lock:
        return bucket in emulator.state.table(base.BUCKETS)


def ensure_bucket(emulator: Emulator, bucket: str, project: str, location: str = "US") -> dict[str, Any]:
    """The bucket's document, creating it for ``project`` when missing (no name rules: internal callers only)."""
    with emulator.mutation():
        existing = emulator.state.table(base.BUCKETS).get(bucket)
        if existing is None:
            existing = _new_bucket_doc(emulator, bucket, project, {"location": location})
            emulator.state.table(base.BUCKETS)[bucket] = existing
        return base.present_bucket(emulator, existing)


def get_object(emulator: Emulator, bucket: str, name: str) -> dict[str, Any]:
    with emulator.state.lock:
        base.require_bucket(emulator, bucket)
        doc = emulator.state.table(base.OBJECTS).get(base.object_key(bucket, name))
        if doc is None:
            raise base.object_not_found(bucket, name)
        return base.present_object(emulator, doc)


def read_object_path(emulator: Emulator, bucket: str, name: str) -> Path:
    get_object(emulator, bucket, name)
    return base.object_file(emulator, bucket, name)


def put_object(emulator: Emulator, bucket: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
    tmp = base.tmp_file(emulator)
    tmp.write_bytes(data)
    return _commit_object(emulator, bucket, name, tmp, {"contentType": content_type}, preconditions={})


def append_object(emulator: Emulator, bucket: str, name: str, data: bytes) -> None:
    key = base.object_key(bucket, name)
    path = base.object_file(emulator, bucket, name)
    with emulator.mutation():
        base.require_bucket(emulator, bucket)
        objects = emulator.state.table(base.OBJECTS)
        doc = objects.get(key)
        if doc is None:
            path.write_bytes(b"")
            empty_md5 = base64.b64encode(hashlib.md5(b"", usedforsecurity=False).digest()).decode()
            doc = _new_object_doc(bucket, name, {"contentType": "text/plain; charset=utf-8"}, 0, 0, empty_md5, None)
            objects[key] = doc
        with path.open("ab") as fh:
            fh.write(data)
        # md5 cannot be extended from a digest: rehash the file (build logs are small).
        size, crc, md5 = base.hash_file(path)
        generation = base.new_generation(int(doc["generation"]))
        now = base.now()
        doc.update(
            generation=str(generation),
            metageneration="1",
            size=str(size),
            crc32c=base.crc32c_b64(crc),
            md5Hash=md5,
            id=f"{bucket}/{name}/{generation}",
            etag=base.object_etag(generation, 1),
            updated=now,
            timeFinalized=now,
        )


# -- documents -----------------------------------------------------------------------------------------------------
def _project_number(emulator: Emulator, project: str) -> str:
    return project if project.isdigit() else emulator.project_number(project)


def _new_bucket_doc(emulator: Emulator, name: str, project: str, body: dict[str, Any]) -> dict[str, Any]:
    now = base.now()
    location = str(body.get("location") or "US").upper()
    if location in base.MULTI_REGIONS:
        location_type = "multi-region"
    elif location in base.DUAL_REGIONS:
        location_type = "dual-region"
    else:
        location_type = "region"
    doc: dict[str, Any] = {
        "kind": "storage#bucket",
        "id": name,
        "name": name,
        "projectNumber": _project_number(emulator, project),
        "generation": str(base.new_generation()),
        "metageneration": "1",
        "location": location,
        "locationType": location_type,
        "storageClass": str(body.get("storageClass") or "STANDARD").upper(),
        "etag": base.bucket_etag(1),
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
        if key in base.BUCKET_OUTPUT_ONLY or key in ("name", "location", "storageClass"):
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
    generation = base.new_generation(int(previous["generation"]) if previous else 0)
    now = base.now()
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
        "crc32c": base.crc32c_b64(crc),
        "etag": base.object_etag(generation, 1),
        "timeCreated": now,
        "updated": now,
        "timeStorageClassUpdated": now,
        "timeFinalized": now,
    }
    for key in base.OBJECT_WRITABLE:
        if key != "contentType" and metadata.get(key) is not None:
            doc[key] = metadata[key]
    return doc


def _validate_object_name(name: str | None) -> str:
    # https://cloud.google.com/storage/docs/objects#naming
    if not name:
        raise base.required("name")
    if len(name.encode()) > 1024 or "\r" in name or "\n" in name or name in (".", ".."):
        raise base.StorageError(400, "invalid", "The specified object name is not valid.")
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
        raise base.precondition_failed()
    not_match = preconditions.get("ifGenerationNotMatch")
    if not_match is not None and not_match == generation:
        if read:
            raise base.StorageError(304, "notModified", "Not Modified")
        raise base.precondition_failed()
    meta_match = preconditions.get("ifMetagenerationMatch")
    if meta_match is not None and (doc is None or meta_match != metageneration):
        raise base.precondition_failed()
    meta_not_match = preconditions.get("ifMetagenerationNotMatch")
    if meta_not_match is not None and doc is not None and meta_not_match == metageneration:
        if read:
            raise base.StorageError(304, "notModified", "Not Modified")
        raise base.precondition_failed()


def readable_object(emulator: Emulator, req: Request, bucket: str, name: str) -> dict[str, Any] | None:
    """The stored document a read of the object answers from, with ``?generation=`` and the read preconditions
    checked; None when they say 304 Not Modified. The caller holds the state lock."""
    generation = base.int_param(req, "generation")
    base.require_bucket(emulator, bucket)
    stored: dict[str, Any] | None = emulator.state.table(base.OBJECTS).get(base.object_key(bucket, name))
    if stored is None or (generation is not None and int(stored["generation"]) != generation):
        raise base.object_not_found(bucket, name)
    try:
        _check_preconditions(stored, _preconditions(req), read=True)
    except base.StorageError as exc:
        if exc.http_status == 304:
            return None
        raise
    return stored


def _preconditions(req: Request) -> dict[str, int | None]:
    names = ("ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch")
    return {name: base.int_param(req, name) for name in names}


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
        size, crc, md5 = base.hash_file(tmp)
        # Uploads carrying crc32c/md5Hash in their metadata are verified (https://cloud.google.com/storage/docs/
        # data-validation); a mismatch is a 400 and nothing is stored.
        sent_crc = metadata.get("crc32c")
        if sent_crc and sent_crc != base.crc32c_b64(crc):
            raise base.StorageError(
                400,
                "invalid",
                f'Provided CRC32C "{sent_crc}" doesn\'t match calculated CRC32C "{base.crc32c_b64(crc)}".',
            )
        sent_md5 = metadata.get("md5Hash")
        if sent_md5 and sent_md5 != md5:
            raise base.StorageError(
                400, "invalid", f'Provided MD5 hash "{sent_md5}" doesn\'t match calculated MD5 hash "{md5}".'
            )
        with emulator.mutation():
            base.require_bucket(emulator, bucket)
            objects = emulator.state.table(base.OBJECTS)
            key = base.object_key(bucket, name)
            previous = objects.get(key)
            _check_preconditions(previous, preconditions, read=False)
            doc = _new_object_doc(bucket, name, metadata, size, crc, md5, previous)
            os.replace(tmp, base.object_file(emulator, bucket, name))
            objects[key] = doc
            return base.present_object(emulator, doc)
    finally:
        tmp.unlink(missing_ok=True)


def _object_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    base.check_fields(doc, base.OBJECT_FIELDS, "resource")
    metadata = doc.get("metadata")
    if metadata is not None and not all(isinstance(v, str) or v is None for v in metadata.values()):
        raise base.StorageError(400, "invalid", "Invalid value for field 'resource.metadata': values must be strings")
    return doc
