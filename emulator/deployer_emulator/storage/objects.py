"""Objects: list, get (metadata or ``alt=media``), download, patch, delete."""

from __future__ import annotations

from typing import Any

from deployer_emulator.core import Emulator, Request, Response
from deployer_emulator.storage import base
from deployer_emulator.storage.media import _media_response
from deployer_emulator.storage.store import _check_preconditions, _object_metadata, _preconditions, readable_object


def register_objects(emulator: Emulator) -> None:
    router = emulator.router

    def list_objects(req: Request, bucket: str) -> dict[str, Any]:
        emulator.authorize(req, "storage.objects.list", f"projects/_/buckets/{bucket}")
        prefix = req.param("prefix") or ""
        delimiter = req.param("delimiter") or ""
        start_offset = req.param("startOffset") or ""
        end_offset = req.param("endOffset") or ""
        include_trailing = req.flag("includeTrailingDelimiter")
        max_results = base.int_param(req, "maxResults") or 1000
        after = base.page_token_decode(req.param("pageToken") or "") if req.param("pageToken") else None
        with emulator.state.lock:
            base.require_bucket(emulator, bucket)
            key_prefix = f"{bucket}/"
            docs = sorted(
                (doc for key, doc in emulator.state.table(base.OBJECTS).items() if key.startswith(key_prefix)),
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
                    items.append(base.present_object(emulator, doc))
                continue
            if emitted >= max_results:
                more = True
                break
            items.append(base.present_object(emulator, doc))
            emitted += 1
            last_key = name
        out: dict[str, Any] = {"kind": "storage#objects"}
        if items:
            out["items"] = items
        if prefixes:
            out["prefixes"] = prefixes
        if more:
            out["nextPageToken"] = base.page_token_encode(last_key)
        return out

    def get_object_route(req: Request, bucket: str, object: str) -> Response | dict[str, Any]:
        emulator.authorize(req, "storage.objects.get", f"projects/_/buckets/{bucket}/objects/{object}")
        if req.param("alt") == "media":
            return _media_response(emulator, req, bucket, object)
        with emulator.state.lock:
            doc = readable_object(emulator, req, bucket, object)
            return Response(304, b"", {}) if doc is None else base.present_object(emulator, doc)

    def download(req: Request, bucket: str, object: str) -> Response:
        emulator.authorize(req, "storage.objects.get", f"projects/_/buckets/{bucket}/objects/{object}")
        return _media_response(emulator, req, bucket, object)

    def patch_object(req: Request, bucket: str, object: str) -> dict[str, Any]:
        body = _object_metadata(base.json_body(req))
        emulator.authorize(req, "storage.objects.update", f"projects/_/buckets/{bucket}/objects/{object}")
        with emulator.mutation():
            base.require_bucket(emulator, bucket)
            doc = emulator.state.table(base.OBJECTS).get(base.object_key(bucket, object))
            if doc is None:
                raise base.object_not_found(bucket, object)
            _check_preconditions(doc, _preconditions(req), read=False)
            for key in base.OBJECT_WRITABLE:
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
                etag=base.object_etag(int(doc["generation"]), metageneration),
                updated=base.now(),
            )
            return base.present_object(emulator, doc)

    def delete_object(req: Request, bucket: str, object: str) -> Response:
        emulator.authorize(req, "storage.objects.delete", f"projects/_/buckets/{bucket}/objects/{object}")
        generation = base.int_param(req, "generation")
        with emulator.mutation():
            base.require_bucket(emulator, bucket)
            objects = emulator.state.table(base.OBJECTS)
            key = base.object_key(bucket, object)
            doc = objects.get(key)
            if doc is None or (generation is not None and int(doc["generation"]) != generation):
                raise base.object_not_found(bucket, object)
            _check_preconditions(doc, _preconditions(req), read=False)
            del objects[key]
            base.object_file(emulator, bucket, object).unlink(missing_ok=True)
        return Response.empty(204)

    router.add("GET", "/download/storage/v1/b/{bucket}/o/{object=**}", download)
    router.add("GET", "/storage/v1/b/{bucket}/o", list_objects)
    router.add("GET", "/storage/v1/b/{bucket}/o/{object=**}", get_object_route)
    router.add("PATCH", "/storage/v1/b/{bucket}/o/{object=**}", patch_object)
    router.add("DELETE", "/storage/v1/b/{bucket}/o/{object=**}", delete_object)
