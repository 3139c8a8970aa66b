"""Uploads: media, multipart and resumable sessions (308 with ``Range`` until the last chunk)."""

from __future__ import annotations

import base64
import json
import os
import uuid

from deployer_emulator.core import Emulator, Request, Response
from deployer_emulator.storage import base
from deployer_emulator.storage.media import _parse_multipart
from deployer_emulator.storage.store import _commit_object, _object_metadata, _preconditions, _validate_object_name


def register_uploads(emulator: Emulator) -> None:
    router = emulator.router

    def upload(req: Request, bucket: str) -> Response:
        upload_type = req.param("uploadType")
        if req.param("upload_id"):
            return _resumable_put(req, bucket)
        if upload_type is None:
            raise base.StorageError(
                400,
                "wrongUrlForUpload",
                "Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/",
            )
        with emulator.state.lock:
            base.require_bucket(emulator, bucket)
        if upload_type == "media":
            name = _validate_object_name(req.param("name"))
            metadata = {"contentType": req.headers.get("content-type") or "application/octet-stream"}
            emulator.authorize(req, "storage.objects.create", f"projects/_/buckets/{bucket}/objects/{name}")
            tmp = base.tmp_file(emulator)
            tmp.write_bytes(req.body)
            return Response.json(
                _commit_object(emulator, bucket, name, tmp, metadata, preconditions=_preconditions(req))
            )
        if upload_type == "multipart":
            parts = _parse_multipart(req.headers.get("content-type", ""), req.body)
            if len(parts) != 2:
                raise base.StorageError(
                    400, "invalid", "Multipart upload must have exactly two parts: metadata and media."
                )
            (_, meta_bytes), (media_headers, media) = parts
            try:
                meta_doc = json.loads(meta_bytes or b"{}")
            except ValueError as exc:
                raise base.StorageError(400, "parseError", f"Parse Error: {exc}") from exc
            if not isinstance(meta_doc, dict):
                raise base.StorageError(400, "parseError", "Parse Error: expected a JSON object")
            metadata = _object_metadata(meta_doc)
            name = _validate_object_name(metadata.get("name") or req.param("name"))
            if not metadata.get("contentType"):
                metadata["contentType"] = media_headers.get("content-type") or "application/octet-stream"
            emulator.authorize(req, "storage.objects.create", f"projects/_/buckets/{bucket}/objects/{name}")
            tmp = base.tmp_file(emulator)
            tmp.write_bytes(media)
            return Response.json(
                _commit_object(emulator, bucket, name, tmp, metadata, preconditions=_preconditions(req))
            )
        if upload_type == "resumable":
            return _resumable_start(req, bucket)
        raise base.StorageError(400, "invalidParameter", f"Invalid upload type: {upload_type}", location="uploadType")

    def _resumable_start(req: Request, bucket: str) -> Response:
        metadata = _object_metadata(base.json_body(req))
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
            "created": base.now(),
            "result": None,
        }
        (base.blob_root(emulator) / "uploads" / upload_id).write_bytes(b"")
        with emulator.mutation():
            emulator.state.table(base.UPLOADS)[upload_id] = session
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
        path = base.blob_root(emulator) / "uploads" / upload_id
        with emulator.state.lock:
            session = emulator.state.table(base.UPLOADS).get(upload_id)
            session = json.loads(json.dumps(session)) if session is not None else None
        if session is None or session["bucket"] != bucket:
            raise base.StorageError(404, "notFound", "No such upload session.")
        if session["result"] is not None:
            return Response.json(session["result"])
        received: int = session["received"]
        content_range = req.headers.get("content-range", "").strip()
        if content_range:
            match = base.CONTENT_RANGE_RE.match(content_range)
            if match is None:
                raise base.StorageError(400, "invalid", f"Failed to parse Content-Range header: {content_range}")
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
                raise base.StorageError(400, "invalid", "The Content-Range does not match the number of bytes sent.")
            if first > received:
                raise base.StorageError(
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
            raise base.StorageError(400, "invalid", "The upload exceeds the declared total size.")
        with emulator.mutation():
            stored = emulator.state.table(base.UPLOADS).get(upload_id)
            if stored is not None:
                stored["received"] = received
                stored["total"] = session["total"]
        if session["total"] is None or received < session["total"]:
            headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
            headers["X-GUploader-UploadID"] = upload_id
            return Response(base.RESUME_INCOMPLETE, b"", headers)
        tmp = base.tmp_file(emulator)
        os.replace(path, tmp)
        try:
            doc = _commit_object(
                emulator, bucket, session["name"], tmp, session["metadata"], preconditions=session["preconditions"]
            )
        except base.StorageError:
            with emulator.mutation():
                emulator.state.table(base.UPLOADS).pop(upload_id, None)
            raise
        with emulator.mutation():
            stored = emulator.state.table(base.UPLOADS).get(upload_id)
            if stored is not None:
                stored["result"] = doc
        return Response.json(doc)

    def cancel_upload(req: Request, bucket: str) -> Response:
        upload_id = req.param("upload_id") or ""
        with emulator.mutation():
            session = emulator.state.table(base.UPLOADS).pop(upload_id, None)
        if session is None:
            raise base.StorageError(404, "notFound", "No such upload session.")
        (base.blob_root(emulator) / "uploads" / upload_id).unlink(missing_ok=True)
        # Google answers a cancelled session with 499 (https://cloud.google.com/storage/docs/performing-resumable-uploads).
        return Response(499, b"", {})

    for prefix in ("", "/resumable"):
        router.add("POST", prefix + "/upload/storage/v1/b/{bucket}/o", upload)
        router.add("PUT", prefix + "/upload/storage/v1/b/{bucket}/o", upload)
        router.add("DELETE", prefix + "/upload/storage/v1/b/{bucket}/o", cancel_upload)
