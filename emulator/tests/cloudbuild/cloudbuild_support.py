"""What the Cloud Build tests share: clients on the emulator, a repository, an uploaded source."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
import uuid
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import artifactregistry_v1, storage
from google.cloud.devtools import cloudbuild_v1

LOCATION = "us-central1"


def _cb(emulator: Any) -> cloudbuild_v1.CloudBuildClient:
    return cloudbuild_v1.CloudBuildClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def _storage(emulator: Any, project: str) -> storage.Client:
    return storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.url}
    )


def _project() -> str:
    return f"cb-{uuid.uuid4().hex[:10]}"


def _repo(emulator: Any, project: str, repository_id: str = "apps") -> None:
    client = artifactregistry_v1.ArtifactRegistryClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    client.create_repository(
        parent=f"projects/{project}/locations/{LOCATION}",
        repository_id=repository_id,
        repository=artifactregistry_v1.Repository(format_=artifactregistry_v1.Repository.Format.DOCKER),
    ).result(timeout=30)


def _upload_source(emulator: Any, project: str, files: dict[str, bytes]) -> cloudbuild_v1.Source:
    """A gcloud-style source: a .tgz in ``<project>_cloudbuild``."""
    client = _storage(emulator, project)
    bucket = client.bucket(f"{project}_cloudbuild")
    if not bucket.exists():
        bucket = client.create_bucket(bucket.name)
    buf = io.BytesIO()
    # mtime 0 everywhere: the same files make the same archive bytes.
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tf:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    name = f"source/{time.time()}-{uuid.uuid4().hex}.tgz"
    bucket.blob(name).upload_from_string(buf.getvalue(), content_type="application/gzip")
    return cloudbuild_v1.Source(storage_source=cloudbuild_v1.StorageSource(bucket=bucket.name, object_=name))


def _docker_build(image: str, *extra: str) -> cloudbuild_v1.BuildStep:
    return cloudbuild_v1.BuildStep(
        name="gcr.io/cloud-builders/docker", args=["build", "--network", "cloudbuild", *extra, "-t", image, "."]
    )


def _log_blob(emulator: Any, build: cloudbuild_v1.Build) -> storage.Blob:
    bucket = build.logs_bucket.removeprefix("gs://")
    return _storage(emulator, build.project_id).bucket(bucket).blob(f"log-{build.id}.txt")
