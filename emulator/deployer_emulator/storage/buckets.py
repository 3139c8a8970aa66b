"""Buckets: insert, list, get, patch, delete."""

from __future__ import annotations

from typing import Any

from deployer_emulator.core import Emulator, Handler, Request, Response
from deployer_emulator.storage import base
from deployer_emulator.storage.store import _new_bucket_doc, _project_number


def register_buckets(emulator: Emulator) -> None:
    router = emulator.router

    def insert_bucket(req: Request) -> Response:
        project = req.param("project")
        if not project:
            raise base.required("project")
        body = base.json_body(req)
        base.check_fields(body, base.BUCKET_FIELDS, "resource")
        name = body.get("name")
        if not name:
            raise base.StorageError(400, "required", "Required")
        _validate_bucket_name(name)
        storage_class = str(body.get("storageClass") or "STANDARD").upper()
        if storage_class not in base.STORAGE_CLASSES:
            raise base.StorageError(400, "invalid", f"Invalid argument: storageClass {storage_class!r} is not valid.")
        emulator.authorize(req, "storage.buckets.create", f"projects/{project}")
        with emulator.mutation():
            buckets = emulator.state.table(base.BUCKETS)
            existing = buckets.get(name)
            if existing is not None:
                # https://cloud.google.com/storage/docs/json_api/v1/status-codes#409_Conflict
                if existing["projectNumber"] == _project_number(emulator, project):
                    raise base.StorageError(
                        409,
                        "conflict",
                        "Your previous request to create the named bucket succeeded and you already own it.",
                    )
                raise base.StorageError(
                    409,
                    "conflict",
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the "
                    "system. Please select a different name and try again.",
                )
            doc = _new_bucket_doc(emulator, name, project, body)
            buckets[name] = doc
            return Response.json(base.present_bucket(emulator, doc))

    def list_buckets(req: Request) -> dict[str, Any]:
        project = req.param("project")
        if not project:
            raise base.required("project")
        emulator.authorize(req, "storage.buckets.list", f"projects/{project}")
        number = _project_number(emulator, project)
        prefix = req.param("prefix") or ""
        max_results = base.int_param(req, "maxResults") or 1000
        after = base.page_token_decode(req.param("pageToken") or "") if req.param("pageToken") else None
        with emulator.state.lock:
            docs = [
                doc
                for name, doc in sorted(emulator.state.table(base.BUCKETS).items())
                if doc["projectNumber"] == number and name.startswith(prefix) and (after is None or name > after)
            ]
        page = docs[:max_results]
        out: dict[str, Any] = {"kind": "storage#buckets", "items": [base.present_bucket(emulator, d) for d in page]}
        if len(docs) > max_results:
            out["nextPageToken"] = base.page_token_encode(page[-1]["name"])
        return out

    def get_bucket(req: Request, bucket: str) -> dict[str, Any]:
        emulator.authorize(req, "storage.buckets.get", f"projects/_/buckets/{bucket}")
        with emulator.state.lock:
            doc = emulator.state.table(base.BUCKETS).get(bucket)
            if doc is None:
                raise base.bucket_not_found()
            return base.present_bucket(emulator, doc)

    def patch_bucket(req: Request, bucket: str) -> dict[str, Any]:
        body = base.json_body(req)
        base.check_fields(body, base.BUCKET_FIELDS, "resource")
        emulator.authorize(req, "storage.buckets.update", f"projects/_/buckets/{bucket}")
        with emulator.mutation():
            doc = emulator.state.table(base.BUCKETS).get(bucket)
            if doc is None:
                raise base.bucket_not_found()
            meta_match = base.int_param(req, "ifMetagenerationMatch")
            if meta_match is not None and meta_match != int(doc["metageneration"]):
                raise base.precondition_failed()
            for key, value in body.items():
                if key in base.BUCKET_OUTPUT_ONLY or key in ("name", "location"):
                    continue
                if value is None:
                    doc.pop(key, None)  # JSON API patch semantics: null clears a field
                else:
                    doc[key] = value
            metageneration = int(doc["metageneration"]) + 1
            doc.update(metageneration=str(metageneration), etag=base.bucket_etag(metageneration), updated=base.now())
            return base.present_bucket(emulator, doc)

    def delete_bucket(req: Request, bucket: str) -> Response:
        emulator.authorize(req, "storage.buckets.delete", f"projects/_/buckets/{bucket}")
        with emulator.mutation():
            buckets = emulator.state.table(base.BUCKETS)
            if bucket not in buckets:
                raise base.bucket_not_found()
            prefix = f"{bucket}/"
            if any(key.startswith(prefix) for key in emulator.state.table(base.OBJECTS)):
                raise base.StorageError(409, "conflict", "The bucket you tried to delete is not empty.")
            del buckets[bucket]
        return Response.empty(204)

    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/storage/v1/b"): insert_bucket,
        ("GET", "/storage/v1/b"): list_buckets,
        ("GET", "/storage/v1/b/{bucket}"): get_bucket,
        ("PATCH", "/storage/v1/b/{bucket}"): patch_bucket,
        ("DELETE", "/storage/v1/b/{bucket}"): delete_bucket,
    }
    for (method, template), handler in routes.items():
        router.add(method, template, handler)


def _validate_bucket_name(name: str) -> None:
    """https://cloud.google.com/storage/docs/buckets#naming: 3-63 characters (222 with dots, 63 per component),
    lowercase letters, digits, ``-``, ``_`` and ``.``, starting and ending with a letter or digit, not an IP address,
    not starting with "goog" and not containing "google"."""
    components = name.split(".")
    valid = (
        base.BUCKET_NAME_RE.match(name) is not None
        and 3 <= len(name) <= (222 if "." in name else 63)
        and all(0 < len(c) <= 63 for c in components)
        and not base.IPV4_RE.match(name)
        and not name.startswith("goog")
        and "google" not in name
    )
    if not valid:
        raise base.StorageError(400, "invalid", f"Invalid bucket name: '{name}'")
