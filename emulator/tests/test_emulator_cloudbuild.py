"""The Cloud Build v1 surface, through the real google-cloud-build client (REST transport), raw HTTP for what a client
would not send, and — with a container engine — real builds whose output lands in the log object."""

from __future__ import annotations

import base64
import gzip
import io
import re
import subprocess
import tarfile
import time
import uuid
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import artifactregistry_v1, storage
from google.cloud.devtools import cloudbuild_v1

LOCATION = "us-central1"
NOT_EXECUTED = "not executed: the emulator has no container engine (install podman or docker)"
BASE_IMAGE = "docker.io/library/python:3.12-slim"  # a local stand-in exists on the test machines (tests/setup.sh)


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


# -- without an engine -----------------------------------------------------------------------------------------------
def test_build_without_engine_completes_as_not_executed(emulator: Any) -> None:
    project = _project()
    _repo(emulator, project)
    source = _upload_source(emulator, project, {"Dockerfile": b"FROM scratch\n"})
    image = f"{LOCATION}-docker.pkg.dev/{project}/apps/web:v1"
    body = cloudbuild_v1.Build.to_json(
        cloudbuild_v1.Build(source=source, steps=[_docker_build(image)], images=[image], tags=["deploy"])
    )
    created = requests.post(
        f"{emulator.url}/v1/projects/{project}/locations/{LOCATION}/builds", data=body, timeout=10
    ).json()
    # The create answer is a not-yet-done operation carrying the queued build.
    assert created["done"] is False
    assert created["name"].startswith(f"projects/{project}/locations/{LOCATION}/operations/")
    assert created["metadata"]["@type"] == "type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata"
    queued = created["metadata"]["build"]
    assert queued["status"] == "QUEUED"
    assert queued["name"] == f"projects/{project}/locations/{LOCATION}/builds/{queued['id']}"
    uuid.UUID(queued["id"])

    # Polled to the end through the operations path, the response is typed as a Build.
    for _ in range(200):
        operation = requests.get(f"{emulator.url}/v1/{created['name']}", timeout=10).json()
        if operation["done"]:
            break
        time.sleep(0.05)
    assert operation["response"]["@type"] == "type.googleapis.com/google.devtools.cloudbuild.v1.Build"

    build = _cb(emulator).get_build(name=f"projects/{project}/locations/{LOCATION}/builds/{queued['id']}")
    assert build.status == cloudbuild_v1.Build.Status.SUCCESS
    assert build.status_detail == NOT_EXECUTED
    assert build.timeout.total_seconds() == 600
    assert build.logs_bucket.endswith(".cloudbuild-logs.googleusercontent.com")
    assert build.log_url == f"{emulator.url}/_emulator/builds/{build.id}/log"
    assert [s.status for s in build.steps] == [cloudbuild_v1.Build.Status.SUCCESS]
    assert build.source_provenance.resolved_storage_source.object_ == source.storage_source.object_
    assert build.start_time is not None
    assert build.finish_time >= build.start_time
    assert {"FETCHSOURCE", "BUILD", "PUSH"} <= set(build.timing)
    [built] = build.results.images
    assert built.name == image
    assert built.digest.startswith("sha256:")
    assert len(built.digest) == 71

    # The log object is readable with ranged reads, and says what happened.
    log = _log_blob(emulator, build)
    assert log.download_as_bytes(start=0, end=len('starting build "') - 1) == b'starting build "'
    text = log.download_as_bytes().decode()
    assert text.startswith(f'starting build "{build.id}"\n')
    for line in ("FETCHSOURCE", "BUILD", f"Step #0: {NOT_EXECUTED}", "PUSH", f"Pushing {image}"):
        assert line in text.splitlines()
    assert text.splitlines()[-1] == "DONE"
    assert requests.get(build.log_url, timeout=10).text == text

    # The image is in Artifact Registry under its tag.
    tag = requests.get(
        f"{emulator.url}/v1/projects/{project}/locations/{LOCATION}/repositories/apps/packages/web/tags/v1", timeout=10
    ).json()
    assert tag["version"].endswith(f"/packages/web/versions/{built.digest}")


def test_placeholder_digest_is_deterministic(emulator: Any) -> None:
    project = _project()
    _repo(emulator, project)
    image = f"{LOCATION}-docker.pkg.dev/{project}/apps/web:v1"
    other = f"{LOCATION}-docker.pkg.dev/{project}/apps/web:v2"
    digests = []
    for tag_image in (image, image, other):
        source = _upload_source(emulator, project, {"Dockerfile": b"FROM scratch\n"})
        build = cloudbuild_v1.Build(source=source, steps=[_docker_build(tag_image)], images=[tag_image])
        done = _cb(emulator).create_build(project_id=project, build=build).result(timeout=60)
        digests.append(done.results.images[0].digest)
    assert digests[0] == digests[1]  # same source bytes, same image name
    assert digests[2] != digests[0]


def test_global_operation_name_and_client_polling(emulator: Any) -> None:
    project = _project()
    build = cloudbuild_v1.Build(steps=[cloudbuild_v1.BuildStep(name="ubuntu", args=["echo", "$PROJECT_ID"])])
    operation = _cb(emulator).create_build(project_id=project, build=build)
    build_id = operation.metadata.build.id
    assert operation.operation.name == f"operations/build/{project}/{base64.b64encode(build_id.encode()).decode()}"
    result = operation.result(timeout=60)
    assert result.status == cloudbuild_v1.Build.Status.SUCCESS
    assert result.name == f"projects/{project}/locations/global/builds/{build_id}"
    # Substitutions are applied to the stored steps.
    assert list(result.steps[0].args) == ["echo", project]
    assert re.fullmatch(r"gs://\d{12}\.cloudbuild-logs\.googleusercontent\.com", result.logs_bucket)


def test_substitutions(emulator: Any) -> None:
    project = _project()
    client = _cb(emulator)
    step = cloudbuild_v1.BuildStep(
        name="gcr.io/cloud-builders/docker",
        args=["build", "-t", "us-docker.pkg.dev/$PROJECT_ID/r/app:${_TAG}", "--build-arg", "X=$$HOME-$BUILD_ID", "."],
    )
    ok = client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[step], substitutions={"_TAG": "t1"}))
    built = ok.result(timeout=60)
    assert list(built.steps[0].args)[2] == f"us-docker.pkg.dev/{project}/r/app:t1"
    assert list(built.steps[0].args)[4] == f"X=$HOME-{built.id}"
    assert dict(built.substitutions) == {"_TAG": "t1"}

    with pytest.raises(exceptions.BadRequest) as unused:
        client.create_build(
            project_id=project, build=cloudbuild_v1.Build(steps=[step], substitutions={"_TAG": "t", "_X": "1"})
        )
    assert 'key "_X" in the substitution data is not matched in the template' in unused.value.message

    with pytest.raises(exceptions.BadRequest) as missing:
        client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[step]))
    assert 'key in the template "_TAG" is not matched in the substitution data' in missing.value.message

    unknown = cloudbuild_v1.BuildStep(name="ubuntu", args=["echo", "$NOT_A_BUILTIN"])
    with pytest.raises(exceptions.BadRequest) as builtin:
        client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[unknown]))
    assert 'key in the template "NOT_A_BUILTIN" is not a valid built-in substitution' in builtin.value.message

    with pytest.raises(exceptions.BadRequest) as bad_key:
        client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[step], substitutions={"tag": "x"}))
    assert 'substitution key "tag" does not respect format' in bad_key.value.message

    loose = cloudbuild_v1.Build(
        steps=[step],
        substitutions={"_UNUSED": "1"},
        options=cloudbuild_v1.BuildOptions(
            substitution_option=cloudbuild_v1.BuildOptions.SubstitutionOption.ALLOW_LOOSE
        ),
    )
    loosely = client.create_build(project_id=project, build=loose).result(timeout=60)
    assert list(loosely.steps[0].args)[2] == f"us-docker.pkg.dev/{project}/r/app:"


def test_validation_errors(emulator: Any) -> None:
    project = _project()
    client = _cb(emulator)
    with pytest.raises(exceptions.BadRequest) as no_steps:
        client.create_build(project_id=project, build=cloudbuild_v1.Build(images=["us-docker.pkg.dev/p/r/i"]))
    assert "no build steps are specified" in no_steps.value.message
    assert no_steps.value.response.json()["error"]["status"] == "INVALID_ARGUMENT"

    with pytest.raises(exceptions.BadRequest) as unnamed:
        client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[cloudbuild_v1.BuildStep(args=["x"])]))
    assert "build step 0 must specify name" in unnamed.value.message

    step = cloudbuild_v1.BuildStep(name="ubuntu", args=["true"])
    with pytest.raises(exceptions.BadRequest) as bad_image:
        client.create_build(
            project_id=project, build=cloudbuild_v1.Build(steps=[step], images=["us-docker.pkg.dev/p/r/App"])
        )
    assert 'invalid image name "us-docker.pkg.dev/p/r/App" contains uppercase letters' in bad_image.value.message

    account = f"projects/{project}/serviceAccounts/builder@{project}.iam.gserviceaccount.com"
    with pytest.raises(exceptions.BadRequest) as service_account:
        client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[step], service_account=account))
    assert service_account.value.message.endswith(
        "if 'build.service_account' is specified, the build must either (a) specify 'build.logs_bucket', (b) use the "
        "REGIONAL_USER_OWNED_BUCKET build.options.default_logs_bucket_behavior option, or (c) use either "
        "CLOUD_LOGGING_ONLY / NONE logging options: invalid argument"
    )
    logs = _storage(emulator, project).create_bucket(f"{project}-logs")
    with_bucket = cloudbuild_v1.Build(steps=[step], service_account=account, logs_bucket=f"gs://{logs.name}")
    finished = client.create_build(project_id=project, build=with_bucket).result(timeout=60)
    assert finished.service_account == account
    assert logs.blob(f"log-{finished.id}.txt").download_as_bytes().decode().splitlines()[-1] == "DONE"
    no_logs = cloudbuild_v1.Build(
        steps=[step],
        service_account=account,
        options=cloudbuild_v1.BuildOptions(logging=cloudbuild_v1.BuildOptions.LoggingMode.CLOUD_LOGGING_ONLY),
    )
    assert client.create_build(project_id=project, build=no_logs).result(timeout=60).logs_bucket == ""

    missing = cloudbuild_v1.Source(
        storage_source=cloudbuild_v1.StorageSource(bucket=f"{project}-logs", object_="nope.tgz")
    )
    with pytest.raises(exceptions.BadRequest) as no_source:
        client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[step], source=missing))
    assert "could not resolve source" in no_source.value.message
    assert f"No such object: {project}-logs/nope.tgz" in no_source.value.message


def test_unknown_field_is_rejected(emulator: Any) -> None:
    project = _project()
    response = requests.post(
        f"{emulator.url}/v1/projects/{project}/builds",
        json={"steps": [{"name": "ubuntu", "argz": ["true"]}]},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "argz" in response.json()["error"]["message"]
    wrong_type = requests.post(f"{emulator.url}/v1/projects/{project}/builds", json={"steps": "ubuntu"}, timeout=10)
    assert wrong_type.status_code == 400
    assert list(_cb(emulator).list_builds(project_id=project)) == []


def test_cancel_finished_build_is_refused_and_list_pages(emulator: Any) -> None:
    project = _project()
    client = _cb(emulator)
    ids = []
    for i in range(3):
        step = cloudbuild_v1.BuildStep(name="ubuntu", args=["echo", str(i)])
        ids.append(
            client.create_build(project_id=project, build=cloudbuild_v1.Build(steps=[step])).result(timeout=60).id
        )
    with pytest.raises(exceptions.BadRequest) as finished:
        client.cancel_build(project_id=project, id=ids[0])
    assert finished.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"

    pages = list(client.list_builds(request=cloudbuild_v1.ListBuildsRequest(project_id=project, page_size=2)).pages)
    assert [len(page.builds) for page in pages] == [2, 1]
    assert [b.id for page in pages for b in page.builds] == list(reversed(ids))  # newest first
    ongoing = list(client.list_builds(project_id=project, filter='status="WORKING" OR status="QUEUED"'))
    assert ongoing == []
    with pytest.raises(exceptions.NotFound):
        client.get_build(project_id=project, id=str(uuid.uuid4()))


def test_build_of_a_missing_image_repository_fails(emulator: Any) -> None:
    project = _project()
    image = f"{LOCATION}-docker.pkg.dev/{project}/missing/web:v1"
    build = cloudbuild_v1.Build(steps=[_docker_build(image)], images=[image])
    operation = _cb(emulator).create_build(project_id=project, build=build)
    with pytest.raises(exceptions.GoogleAPICallError) as failed:
        operation.result(timeout=60)
    assert "Build failed; check build logs for details" in str(failed.value)
    final = _cb(emulator).get_build(project_id=project, id=operation.metadata.build.id)
    assert final.status == cloudbuild_v1.Build.Status.FAILURE
    assert final.status_detail == f'failed to push image "{image}": name unknown: Repository "missing" not found'
    text = _log_blob(emulator, final).download_as_bytes().decode()
    assert text.splitlines()[-2] == "ERROR"


# -- with a container engine ------------------------------------------------------------------------------------------
def _engine_image_id(engine: str, reference: str) -> str:
    out = subprocess.run([engine, "image", "inspect", "--format", "{{.Id}}", reference], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    value = out.stdout.strip()
    return value if value.startswith("sha256:") else f"sha256:{value}"


def _remove_image(engine: str, reference: str) -> None:
    subprocess.run([engine, "rmi", reference], capture_output=True, check=False)


@pytest.mark.containers
def test_real_build_with_the_engine(engine_emulator: Any) -> None:
    emulator = engine_emulator
    project = _project()
    _repo(emulator, project)
    image = f"{LOCATION}-docker.pkg.dev/{project}/apps/web:v1"
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo hi > /x\n".encode()
    source = _upload_source(emulator, project, {"Dockerfile": dockerfile})
    build = cloudbuild_v1.Build(source=source, steps=[_docker_build(image, "--cache-from", image)], images=[image])
    try:
        done = _cb(emulator).create_build(project_id=project, build=build).result(timeout=300)
        assert done.status == cloudbuild_v1.Build.Status.SUCCESS
        assert done.status_detail == ""
        assert done.steps[0].exit_code == 0
        local_id = _engine_image_id(emulator.engine, image)
        assert done.results.images[0].digest == local_id

        text = _log_blob(emulator, done).download_as_bytes().decode()
        assert "Step #0: (emulator) ignoring --network cloudbuild: not applicable to the local engine" in text
        if emulator.engine == "podman":
            assert "Step #0: STEP 1/2: FROM docker.io/library/python:3.12-slim" in text
            assert "Step #0: STEP 2/2: RUN echo hi > /x" in text
        assert text.splitlines()[-1] == "DONE"

        image_doc = requests.get(
            f"{emulator.url}/v1/projects/{project}/locations/{LOCATION}/repositories/apps/dockerImages/web@{local_id}",
            timeout=10,
        ).json()
        assert image_doc["tags"] == ["v1"]
        assert int(image_doc["imageSizeBytes"]) > 0
        assert "artifactType" not in image_doc  # a real image
    finally:
        _remove_image(emulator.engine, image)


@pytest.mark.containers
def test_failing_step_with_the_engine(engine_emulator: Any) -> None:
    emulator = engine_emulator
    project = _project()
    image = f"localhost/{project}/fails:v1"
    source = _upload_source(emulator, project, {"Dockerfile": f"FROM {BASE_IMAGE}\nRUN false\n".encode()})
    build = cloudbuild_v1.Build(source=source, steps=[_docker_build(image)])
    operation = _cb(emulator).create_build(project_id=project, build=build)
    with pytest.raises(exceptions.GoogleAPICallError):
        operation.result(timeout=300)
    final = _cb(emulator).get_build(project_id=project, id=operation.metadata.build.id)
    assert final.status == cloudbuild_v1.Build.Status.FAILURE
    code = final.steps[0].exit_code
    assert code != 0
    assert final.status_detail == (
        f'Build step 0 "gcr.io/cloud-builders/docker" failed: step exited with non-zero status: {code}'
    )
    assert final.failure_info.type_ == cloudbuild_v1.Build.FailureInfo.FailureType.USER_BUILD_STEP
    assert final.steps[0].status == cloudbuild_v1.Build.Status.FAILURE
    lines = _log_blob(emulator, final).download_as_bytes().decode().splitlines()
    assert lines[-2:] == [
        "ERROR",
        f'ERROR: build step 0 "gcr.io/cloud-builders/docker" failed: step exited with non-zero status: {code}',
    ]


@pytest.mark.containers
def test_cancel_a_running_build_with_the_engine(engine_emulator: Any) -> None:
    emulator = engine_emulator
    project = _project()
    image = f"localhost/{project}/slow:v1"
    source = _upload_source(emulator, project, {"Dockerfile": f"FROM {BASE_IMAGE}\nRUN sleep 120\n".encode()})
    client = _cb(emulator)
    operation = client.create_build(
        project_id=project, build=cloudbuild_v1.Build(source=source, steps=[_docker_build(image)])
    )
    build_id = operation.metadata.build.id
    log_url = f"{emulator.url}/_emulator/builds/{build_id}/log"
    deadline = time.monotonic() + 120
    while "RUN sleep 120" not in requests.get(log_url, timeout=10).text:
        assert time.monotonic() < deadline, "the build never reached its RUN step"
        time.sleep(0.2)
    # While it runs, the log object in the logs bucket already holds the engine's output: a tailing client reading
    # from an offset gets the new bytes with 206.
    running = client.get_build(project_id=project, id=build_id)
    assert running.status == cloudbuild_v1.Build.Status.WORKING
    bucket = running.logs_bucket.removeprefix("gs://")
    log_object = f"{emulator.url}/download/storage/v1/b/{bucket}/o/log-{build_id}.txt"
    tail_deadline = time.monotonic() + 5  # the object is appended to a few times a second
    while True:
        tail = requests.get(log_object, params={"alt": "media"}, headers={"Range": "bytes=10-"}, timeout=10)
        if "RUN sleep 120" in tail.text or time.monotonic() > tail_deadline:
            break
        time.sleep(0.1)
    assert tail.status_code == 206
    assert "RUN sleep 120" in tail.text
    started = time.monotonic()
    cancelled = client.cancel_build(project_id=project, id=build_id)
    assert cancelled.status == cloudbuild_v1.Build.Status.CANCELLED
    assert time.monotonic() - started < 30
    with pytest.raises(exceptions.GoogleAPICallError) as raised:
        operation.result(timeout=60)
    assert "Build was cancelled" in str(raised.value)
    final = client.get_build(project_id=project, id=build_id)
    assert final.steps[0].status == cloudbuild_v1.Build.Status.CANCELLED
    assert requests.get(log_url, timeout=10).text.splitlines()[-2:] == ["ERROR", "ERROR: the build was cancelled"]
