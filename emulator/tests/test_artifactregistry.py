"""The Artifact Registry v1 surface, through the real google-cloud-artifact-registry client (REST transport)."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import artifactregistry_v1, storage
from google.cloud.devtools import cloudbuild_v1

from deployer_emulator import artifactregistry
from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import ApiError

LOCATION = "us-central1"


def _ar(emulator: Any) -> artifactregistry_v1.ArtifactRegistryClient:
    return artifactregistry_v1.ArtifactRegistryClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def _cb(emulator: Any) -> cloudbuild_v1.CloudBuildClient:
    return cloudbuild_v1.CloudBuildClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def _project() -> str:
    return f"ar-{uuid.uuid4().hex[:10]}"


def _docker_repo(emulator: Any, project: str, repository_id: str = "apps") -> artifactregistry_v1.Repository:
    operation = _ar(emulator).create_repository(
        parent=f"projects/{project}/locations/{LOCATION}",
        repository_id=repository_id,
        repository=artifactregistry_v1.Repository(format_=artifactregistry_v1.Repository.Format.DOCKER),
    )
    return operation.result(timeout=30)


def _build(emulator: Any, project: str, image: str, content: bytes) -> cloudbuild_v1.Build:
    """An engine-less build of ``image`` from a one-file source; returns the finished Build."""
    client = storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.url}
    )
    bucket = client.bucket(f"{project}_cloudbuild")
    if not bucket.exists():
        bucket = client.create_bucket(bucket.name)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(content)
        tf.addfile(info, io.BytesIO(content))
    name = f"source/{uuid.uuid4().hex}.tgz"
    bucket.blob(name).upload_from_string(buf.getvalue(), content_type="application/gzip")
    build = cloudbuild_v1.Build(
        source=cloudbuild_v1.Source(storage_source=cloudbuild_v1.StorageSource(bucket=bucket.name, object_=name)),
        steps=[cloudbuild_v1.BuildStep(name="gcr.io/cloud-builders/docker", args=["build", "-t", image, "."])],
        images=[image],
    )
    return _cb(emulator).create_build(project_id=project, build=build).result(timeout=60)


def test_create_repository_is_a_long_running_operation(emulator: Any) -> None:
    project = _project()
    raw = requests.post(
        f"{emulator.url}/v1/projects/{project}/locations/{LOCATION}/repositories",
        params={"repositoryId": "raw-repo"},
        json={"format": "DOCKER", "description": "made raw"},
        timeout=10,
    ).json()
    assert raw["done"] is False
    assert raw["name"].startswith(f"projects/{project}/locations/{LOCATION}/operations/")
    assert raw["metadata"]["@type"] == "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"

    repo = _docker_repo(emulator, project, "web-apps")
    assert repo.name == f"projects/{project}/locations/{LOCATION}/repositories/web-apps"
    assert repo.format_ == artifactregistry_v1.Repository.Format.DOCKER
    assert repo.mode == artifactregistry_v1.Repository.Mode.STANDARD_REPOSITORY
    assert repo.registry_uri == f"{LOCATION}-docker.pkg.dev/{project}/web-apps"
    assert repo.create_time is not None

    fetched = _ar(emulator).get_repository(name=repo.name)
    assert fetched.registry_uri == repo.registry_uri
    names = [r.name for r in _ar(emulator).list_repositories(parent=f"projects/{project}/locations/{LOCATION}")]
    assert names == [f"projects/{project}/locations/{LOCATION}/repositories/raw-repo", repo.name]

    # Over REST the client maps HTTP 409 to Conflict (ALREADY_EXISTS in the body's status).
    with pytest.raises(exceptions.Conflict) as again:
        _docker_repo(emulator, project, "web-apps")
    assert "the repository already exists" in again.value.message


@pytest.mark.parametrize("bad_id", ["Upper", "1starts-with-digit", "ends-with-", "under_score", "a" * 64])
def test_invalid_repository_id(emulator: Any, bad_id: str) -> None:
    # Over REST the client maps HTTP 400 to BadRequest; the body's status says INVALID_ARGUMENT.
    with pytest.raises(exceptions.BadRequest) as invalid:
        _docker_repo(emulator, _project(), bad_id)
    assert f'Invalid repository ID "{bad_id}"' in invalid.value.message
    assert invalid.value.response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_format_is_required_and_fields_are_strict(emulator: Any) -> None:
    project = _project()
    with pytest.raises(exceptions.BadRequest) as no_format:
        _ar(emulator).create_repository(
            parent=f"projects/{project}/locations/{LOCATION}", repository_id="noformat", repository={}
        )
    assert "format must be specified" in no_format.value.message
    unknown = requests.post(
        f"{emulator.url}/v1/projects/{project}/locations/{LOCATION}/repositories",
        params={"repositoryId": "strict"},
        json={"format": "DOCKER", "descripton": "typo"},
        timeout=10,
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "descripton" in unknown.json()["error"]["message"]
    with pytest.raises(exceptions.NotFound):
        _ar(emulator).get_repository(name=f"projects/{project}/locations/{LOCATION}/repositories/strict")


def test_update_and_delete_repository(emulator: Any) -> None:
    project = _project()
    repo = _docker_repo(emulator, project)
    updated = _ar(emulator).update_repository(
        repository=artifactregistry_v1.Repository(name=repo.name, description="images of the web app"),
        update_mask={"paths": ["description"]},
    )
    assert updated.description == "images of the web app"
    assert updated.format_ == artifactregistry_v1.Repository.Format.DOCKER

    _ar(emulator).delete_repository(name=repo.name).result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        _ar(emulator).get_repository(name=repo.name)


def test_tag_absent_then_present_after_a_build_and_moves_on_rebuild(emulator: Any) -> None:
    project = _project()
    repo = _docker_repo(emulator, project)
    client = _ar(emulator)
    tag_name = f"{repo.name}/packages/web/tags/v1"
    with pytest.raises(exceptions.NotFound):
        client.get_tag(name=tag_name)

    image = f"{LOCATION}-docker.pkg.dev/{project}/apps/web:v1"
    first = _build(emulator, project, image, b"FROM scratch\n")
    digest = first.results.images[0].digest
    assert digest.startswith("sha256:")
    assert len(digest) == len("sha256:") + 64

    tag = client.get_tag(name=tag_name)
    assert tag.version == f"{repo.name}/packages/web/versions/{digest}"
    images = list(client.list_docker_images(parent=repo.name))
    assert [i.uri for i in images] == [f"{LOCATION}-docker.pkg.dev/{project}/apps/web@{digest}"]
    assert list(images[0].tags) == ["v1"]

    # A new push of the same tag moves it to the new version; the old version keeps no tag.
    second = _build(emulator, project, image, b"FROM scratch\nLABEL v=2\n")
    new_digest = second.results.images[0].digest
    assert new_digest != digest
    assert client.get_tag(name=tag_name).version == f"{repo.name}/packages/web/versions/{new_digest}"
    by_digest = {i.uri.rsplit("@", 1)[1]: list(i.tags) for i in client.list_docker_images(parent=repo.name)}
    assert by_digest == {digest: [], new_digest: ["v1"]}
    versions = [v.name for v in client.list_versions(parent=f"{repo.name}/packages/web")]
    assert sorted(versions) == sorted(f"{repo.name}/packages/web/versions/{d}" for d in (digest, new_digest))


def test_delete_version_needs_force_for_a_tagged_one(emulator: Any) -> None:
    """DeleteVersionRequest.force: "By default, a version that is tagged may not be deleted." """
    project = _project()
    repo = _docker_repo(emulator, project)
    client = _ar(emulator)
    digest = _build(emulator, project, f"{LOCATION}-docker.pkg.dev/{project}/apps/gone:v1", b"FROM scratch\n")
    version = f"{repo.name}/packages/gone/versions/{digest.results.images[0].digest}"
    # FAILED_PRECONDITION is HTTP 400, which the REST client raises as BadRequest.
    with pytest.raises(exceptions.BadRequest, match="is tagged"):
        client.delete_version(request={"name": version}).result(timeout=30)
    client.delete_version(request={"name": version, "force": True}).result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        client.get_version(name=version)
    assert list(client.list_docker_images(parent=repo.name)) == []


def test_packages_with_a_slash_and_placeholder_marking(emulator: Any) -> None:
    project = _project()
    repo = _docker_repo(emulator, project)
    client = _ar(emulator)
    image = f"{LOCATION}-docker.pkg.dev/{project}/apps/team/api:2024"
    digest = _build(emulator, project, image, b"FROM scratch\n").results.images[0].digest

    package = client.get_package(name=f"{repo.name}/packages/team%2Fapi")
    assert package.name == f"{repo.name}/packages/team%2Fapi"
    assert [p.name for p in client.list_packages(parent=repo.name)] == [package.name]
    tag = client.get_tag(name=f"{repo.name}/packages/team%2Fapi/tags/2024")
    assert tag.version.endswith(f"/packages/team%2Fapi/versions/{digest}")

    docker_image = client.get_docker_image(name=f"{repo.name}/dockerImages/team%2Fapi@{digest}")
    assert docker_image.uri == f"{LOCATION}-docker.pkg.dev/{project}/apps/team/api@{digest}"
    # The older wire form (a single %2F, raw "@" and ":") names the same image.
    raw = requests.get(f"{emulator.url}/v1/{repo.name}/dockerImages/team%2Fapi@{digest}", timeout=10)
    assert raw.status_code == 200
    assert raw.json()["name"] == f"{repo.name}/dockerImages/team%2Fapi@{digest}"
    # Built without an engine: honestly marked as not a runnable image.
    assert docker_image.artifact_type == "application/vnd.deployer_emulator.placeholder"
    version = client.get_version(name=f"{repo.name}/packages/team%2Fapi/versions/{digest}")
    assert "emulator.deployer.dev/placeholder" in version.annotations


def test_push_to_a_missing_repository_fails_the_build(emulator: Any) -> None:
    project = _project()
    with pytest.raises(exceptions.GoogleAPICallError) as failed:
        _build(emulator, project, f"{LOCATION}-docker.pkg.dev/{project}/nope/web:v1", b"FROM scratch\n")
    assert "Build failed; check build logs for details" in str(failed.value)
    builds = list(_cb(emulator).list_builds(project_id=project))
    assert builds[0].status == cloudbuild_v1.Build.Status.FAILURE
    assert 'name unknown: Repository "nope" not found' in builds[0].status_detail
    assert builds[0].failure_info.type_ == cloudbuild_v1.Build.FailureInfo.FailureType.PUSH_FAILED


def test_repository_operation_is_readable(emulator: Any) -> None:
    project = _project()
    operation = requests.post(
        f"{emulator.url}/v1/projects/{project}/locations/{LOCATION}/repositories",
        params={"repositoryId": "ops"},
        json={"format": "DOCKER"},
        timeout=10,
    ).json()
    for _ in range(100):
        polled = requests.get(f"{emulator.url}/v1/{operation['name']}", timeout=10).json()
        if polled.get("done"):
            break
    assert polled["done"] is True
    assert polled["response"]["@type"] == "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"
    assert polled["response"]["name"] == f"projects/{project}/locations/{LOCATION}/repositories/ops"


def test_in_process_helpers_for_the_run_surface(tmp_path: Path) -> None:
    """record_image / local_image_id / image_is_executable, as the Run surface calls them inside the emulator."""
    emulator = Emulator(state_dir=None, blob_dir=tmp_path, engine=None)
    artifactregistry.register(emulator)
    path = f"/v1/projects/p/locations/{LOCATION}/repositories"
    handler, params = emulator.router.match("POST", path)
    handler(Request("POST", path, {"repositoryId": ["r"]}, {}, b'{"format": "DOCKER"}', "anonymous"), **params)

    built, local = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    artifactregistry.record_image(emulator, "p", LOCATION, "r", "team/app", ["v1"], built, 10, True, local)
    uri = f"{LOCATION}-docker.pkg.dev/p/r/team/app"
    assert artifactregistry.local_image_id(emulator, f"{uri}:v1") == local
    assert artifactregistry.local_image_id(emulator, f"{uri}@{built}") == local
    assert artifactregistry.local_image_id(emulator, uri) is None  # no "latest" tag
    assert artifactregistry.local_image_id(emulator, f"{LOCATION}-docker.pkg.dev/p/r/other:v1") is None
    assert artifactregistry.image_is_executable(emulator, built)
    assert artifactregistry.image_is_executable(emulator, f"{uri}:v1")

    placeholder = "sha256:" + "c" * 64
    artifactregistry.record_image(emulator, "p", LOCATION, "r", "team/app", ["v1"], placeholder, 0, False, None)
    assert artifactregistry.local_image_id(emulator, f"{uri}:v1") is None  # the tag moved to the placeholder
    assert artifactregistry.local_image_id(emulator, f"{uri}@{built}") == local
    assert not artifactregistry.image_is_executable(emulator, placeholder)
    assert not artifactregistry.image_is_executable(emulator, f"{uri}:v1")
    assert artifactregistry.image_exists(emulator, f"{uri}:v1")
    assert not artifactregistry.image_exists(emulator, f"{uri}:v2")

    with pytest.raises(ApiError) as missing:
        artifactregistry.record_image(emulator, "p", LOCATION, "nope", "app", ["v1"], built, 1, True, local)
    assert missing.value.message == 'name unknown: Repository "nope" not found'
