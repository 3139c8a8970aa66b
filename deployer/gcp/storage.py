"""Cloud Storage: the source bucket, the source upload, and ranged reads of the build log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    name: str
    generation: int
    size: int


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

    def read_from(self, bucket: str, name: str, offset: int) -> bytes | None:
        """Bytes of the object from ``offset`` on; None when it does not exist yet or nothing is new (404/416)."""
        from google.api_core import exceptions as gexc

        with google_call(f"reading gs://{bucket}/{name}", project=self._project):
            try:
                return bytes(self.client.bucket(bucket).blob(name).download_as_bytes(start=offset, checksum=None))
            except (gexc.NotFound, gexc.RequestRangeNotSatisfiable):
                return None
