"""Cloud Storage: the source bucket, the source upload, and ranged reads of the build log."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from deployer.errors import DeployerError
from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call

# The client library sends an upload of at most 8 MiB in one multipart request (google.cloud.storage.blob's
# _MAX_MULTIPART_SIZE) and a larger one as a resumable session. Chunks of a session must be multiples of 256 KiB
# (https://cloud.google.com/storage/docs/performing-resumable-uploads, which advises at least 8 MiB); 8 MiB keeps
# the memory held per chunk small: with 16 MiB a 700 MB upload peaked at 244 MiB RSS, with 8 MiB at 170.
SINGLE_REQUEST_MAX = 8 * 1024 * 1024
UPLOAD_CHUNK = 8 * 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Prefixed:
    """``first`` then the rest of ``rest``, with the ``tell`` and forward-only ``seek`` a resumable upload calls."""

    def __init__(self, first: bytes, rest: Readable) -> None:
        self._first, self._rest, self._position = first, rest, 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data = self._first + self._rest.read()
            self._first = b""
        else:
            data = self._first[:size]
            self._first = self._first[size:]
            if len(data) < size:
                data += self._rest.read(size - len(data))
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = offset if whence == os.SEEK_SET else self._position + offset if whence == os.SEEK_CUR else -1
        if target != self._position:
            raise OSError("the upload is produced as it is sent: it cannot seek back")
        return self._position


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    name: str
    generation: int
    size: int


# The permissions the calls below need for a build's source: find or create Cloud Build's source bucket
# (buckets.get / create), look up and upload the archive and read the build log (objects.get / create)
# (https://cloud.google.com/storage/docs/access-control/iam-json).
SOURCE_PERMISSIONS = ("storage.buckets.get", "storage.buckets.create", "storage.objects.get", "storage.objects.create")


class StorageAdapter:
    def __init__(self, clients: Clients, project: str) -> None:
        self._clients = clients
        self._project = project
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._clients.storage(self._project)
        return self._client

    def bucket_exists(self, bucket: str) -> bool:
        from google.api_core import exceptions as gexc

        with google_call(f"looking up bucket gs://{bucket}", project=self._project):
            try:
                self.client.get_bucket(bucket)
                return True
            except gexc.NotFound:
                return False
            except gexc.Forbidden as exc:
                # Bucket names are global: a 403 on our own project's bucket name means another project owns it.
                raise DeployerError(
                    f"the bucket gs://{bucket} exists but belongs to another project",
                    "Cloud Build's source bucket name is taken; ask its owner, or use another project id",
                ) from exc

    def create_bucket(self, bucket: str, location: str) -> None:
        with google_call(f"creating bucket gs://{bucket}", project=self._project):
            self.client.create_bucket(bucket, project=self._project, location=location)

    def stat(self, bucket: str, name: str) -> StoredObject | None:
        with google_call(f"looking up gs://{bucket}/{name}", project=self._project):
            blob = self.client.bucket(bucket).get_blob(name)
        if blob is None:
            return None
        return StoredObject(bucket, name, int(blob.generation), int(blob.size or 0))

    def upload(self, bucket: str, name: str, path: Path) -> StoredObject:
        with google_call(f"uploading the build context to gs://{bucket}/{name}", project=self._project):
            blob = self.client.bucket(bucket).blob(name)
            # if_generation_match=0: never overwrite; an identical name means identical content (named by hash).
            blob.upload_from_filename(str(path), content_type="application/gzip", if_generation_match=0)
        return StoredObject(bucket, name, int(blob.generation), int(blob.size or 0))

    def upload_stream(self, bucket: str, name: str, stream: Readable, content_type: str) -> StoredObject:
        """Upload what ``stream`` produces as it is read: one request when it ends within 8 MiB, else a resumable
        session of 8 MiB chunks (``Content-Range: bytes A-B/*`` until the last), so nothing is held whole."""
        first = stream.read(SINGLE_REQUEST_MAX)
        with google_call(f"uploading the build context to gs://{bucket}/{name}", project=self._project):
            blob = self.client.bucket(bucket).blob(name, chunk_size=UPLOAD_CHUNK)
            # if_generation_match=0: never overwrite; an identical name means identical content (named by hash).
            if len(first) < SINGLE_REQUEST_MAX:
                blob.upload_from_string(first, content_type=content_type, if_generation_match=0)
            else:
                blob.upload_from_file(_Prefixed(first, stream), content_type=content_type, if_generation_match=0)
        return StoredObject(bucket, name, int(blob.generation), int(blob.size or 0))

    def read_from(self, bucket: str, name: str, offset: int) -> bytes | None:
        """Bytes of the object from ``offset`` on; None when it does not exist yet or nothing is new (404/416)."""
        from google.api_core import exceptions as gexc

        with google_call(f"reading gs://{bucket}/{name}", project=self._project):
            try:
                return bytes(self.client.bucket(bucket).blob(name).download_as_bytes(start=offset, checksum=None))
            except (gexc.NotFound, gexc.RequestRangeNotSatisfiable):
                return None
