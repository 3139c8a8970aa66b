"""Cloud Storage: the source bucket, the source upload, and ranged reads of the build log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from deployer.errors import DeployerError
from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call
from deployer.streams import ForwardOnly

# The client library sends an upload of at most 8 MiB in one multipart request (google.cloud.storage.blob's
# _MAX_MULTIPART_SIZE) and a larger one as a resumable session. Chunks of a session must be multiples of 256 KiB
# (https://cloud.google.com/storage/docs/performing-resumable-uploads, which advises at least 8 MiB); 8 MiB keeps
# the memory held per chunk small: with 16 MiB a 700 MB upload peaked at 244 MiB RSS, with 8 MiB at 170.
SINGLE_REQUEST_MAX = 8 * 1024 * 1024
UPLOAD_CHUNK = 8 * 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Prefixed(ForwardOnly):
    """``first`` then the rest of ``rest``, with the ``tell`` and forward-only ``seek`` a resumable upload calls."""

    _why_no_seek = "the upload is produced as it is sent: it cannot seek back"

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

    def bucket_owner(self, bucket: str) -> str | None:
        """The number of the project that owns the bucket (its ``projectNumber``), or None when none exists."""
        from google.api_core import exceptions as gexc

        with google_call(f"looking up bucket gs://{bucket}", project=self._project):
            try:
                found = self.client.get_bucket(bucket)
            except gexc.NotFound:
                return None
            except gexc.Forbidden as exc:
                # Bucket names are global: a 403 on our own project's bucket name means another project owns it.
                raise DeployerError(
                    f"the bucket gs://{bucket} exists but belongs to another project",
                    "Cloud Build's source bucket name is taken; ask its owner, or use another project id",
                ) from exc
        return str(found.project_number)

    def create_bucket(self, body: dict[str, Any]) -> str:
        """Create the bucket ``body`` describes (name, location, storageClass, iamConfiguration, lifecycle,
        labels: the fields gcp/bodies/storage.py sets); returns the owner's project number."""
        from google.cloud import storage  # type: ignore[attr-defined]

        bucket = storage.Bucket(self.client, name=body["name"])
        bucket.storage_class = body.get("storageClass", "STANDARD")
        iam = body.get("iamConfiguration", {})
        bucket.iam_configuration.uniform_bucket_level_access_enabled = bool(
            iam.get("uniformBucketLevelAccess", {}).get("enabled")
        )
        if "publicAccessPrevention" in iam:
            bucket.iam_configuration.public_access_prevention = iam["publicAccessPrevention"]
        bucket.lifecycle_rules = body.get("lifecycle", {}).get("rule", [])
        bucket.labels = body.get("labels", {})
        with google_call(f"creating bucket gs://{body['name']}", project=self._project):
            created = self.client.create_bucket(bucket, project=self._project, location=body["location"])
        return str(created.project_number)

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
