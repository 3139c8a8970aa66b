"""Builds (cloudbuild/builds.py, execution.py): create without an engine, operations, cancel, list, failures."""

from __future__ import annotations

import base64
import re
import time
import uuid
from typing import Any

import pytest
import requests
from cloudbuild_support import LOCATION, _cb, _docker_build, _log_blob, _project, _repo, _upload_source
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1

NOT_EXECUTED = "not executed: the emulator has no container engine (install podman or docker)"


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
