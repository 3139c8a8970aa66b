"""Steps and images (cloudbuild/steps.py): placeholder digests, and with an engine real builds, failures, cancel."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest
import requests
from cloudbuild_support import LOCATION, _cb, _docker_build, _log_blob, _project, _repo, _upload_source
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1

BASE_IMAGE = "docker.io/library/python:3.12-slim"  # a local stand-in exists on the test machines (tests/setup.sh)


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
