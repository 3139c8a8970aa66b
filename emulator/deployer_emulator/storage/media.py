"""Bodies in and out: multipart/related uploads, and downloads with ranged reads."""

from __future__ import annotations

import re
from datetime import datetime
from typing import BinaryIO

from deployer_emulator.core import Emulator, Request, Response
from deployer_emulator.storage import base
from deployer_emulator.storage.store import readable_object


# -- multipart/related ---------------------------------------------------------------------------------------------
def _parse_multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/related body into (headers, payload) parts.

    The Python client writes CRLF line endings; gcloud's apitools writes bare LF (email.generator) and quotes the
    boundary with single quotes (``boundary='===...=='``). The line-ending style is taken from the first delimiter
    line and used for every part, so a payload ending in ``\\r`` survives LF-style bodies.
    """
    match = re.search(r"boundary=(?:\"([^\"]+)\"|'([^']+)'|([^;\s]+))", content_type)
    if match is None:
        raise base.StorageError(400, "invalid", "Missing boundary in multipart body.")
    boundary = ("--" + next(g for g in match.groups() if g)).encode()
    first = body.find(boundary)
    if first < 0:
        raise base.StorageError(400, "invalid", "Malformed multipart body.")
    after = first + len(boundary)
    newline = b"\r\n" if body[after : after + 2] == b"\r\n" else b"\n"
    parts: list[tuple[dict[str, str], bytes]] = []
    position = first
    while True:
        start = position + len(boundary)
        if body[start : start + 2] == b"--":
            break  # the closing delimiter
        if not body.startswith(newline, start):
            raise base.StorageError(400, "invalid", "Malformed multipart body.")
        start += len(newline)
        next_delimiter = body.find(newline + boundary, start)
        if next_delimiter < 0:
            raise base.StorageError(400, "invalid", "Malformed multipart body: no closing boundary.")
        part = body[start:next_delimiter]
        head, separator, payload = part.partition(newline + newline)
        if not separator:
            if part.startswith(newline):  # a part without headers
                head, payload = b"", part[len(newline) :]
            else:
                raise base.StorageError(400, "invalid", "Malformed multipart body.")
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
    path = base.object_file(emulator, bucket, name)
    with emulator.state.lock:
        stored = readable_object(emulator, req, bucket, name)
        if stored is None:
            return Response(304, b"", {})
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
        if span == base.UNSATISFIABLE:
            # RFC 9110 §15.5.17; the Python client raises RequestRangeNotSatisfiable, gcloud's log tailer waits.
            error = base.StorageError(416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied.")
            return base.error_response(error, {"Content-Range": f"bytes */{size}"})
        first, last = span
        fh.seek(first)
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return Response(206, fh.read(last - first + 1), headers)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=N-``, ``bytes=N-M``, ``bytes=-K`` -> (first, last); UNSATISFIABLE; None to serve the whole object."""
    match = base.RANGE_RE.match(header.replace(" ", ""))
    if match is None:
        return None  # unparseable or multiple ranges: RFC 9110 lets a server ignore Range
    first_s, last_s = match["first"], match["last"]
    if not first_s and not last_s:
        return None
    if not first_s:
        suffix = int(last_s)
        if suffix == 0:
            return base.UNSATISFIABLE
        return (max(size - suffix, 0), size - 1) if size else base.UNSATISFIABLE
    first = int(first_s)
    if first >= size:
        return base.UNSATISFIABLE
    last = min(int(last_s), size - 1) if last_s else size - 1
    if last < first:
        return None
    return first, last
