"""cloudbuild.yaml: the one build configuration, for deployer's own builds and for `gcloud builds submit --config`.

Pure: the top-level file is the packaged one, it parses strictly as a Cloud Build ``Build``, its substitutions are
consistent, and deployer's request is built from it. Emulator tier: the file as a user submits it (real
cloudbuild_v1 client), and deployer's body with a build service account, whose log deployer still finds. Cross-client:
`gcloud builds submit --config cloudbuild.yaml` against the emulator.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import artifactregistry_v1
from google.cloud.devtools import cloudbuild_v1

from deployer.gcp.bodies.build import (
    BuildSpec,
    build_body,
    cloudbuild_config_text,
    fill_substitutions,
)
from deployer_emulator.testing import EmulatorHandle

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCATION = "us-central1"
_KEYS = re.compile(r"\$\{(_[A-Z0-9_]+)\}|(?<!\$)\$(_[A-Z0-9_]+)")

SPEC = BuildSpec(
    bucket="my-proj_cloudbuild",
    object="source/abc.tgz",
    generation=1700000000000001,
    dockerfile="docker/Dockerfile",
    image="europe-west4-docker.pkg.dev/my-proj/deployer/api",
    tags=("src-0123456789abcdef01234567", "git-0123456789ab"),
    timeout_s=1200,
    service="api",
)


def _config() -> dict[str, Any]:
    loaded = yaml.safe_load(cloudbuild_config_text())
    assert isinstance(loaded, dict)
    return loaded


def _cb(emulator: EmulatorHandle) -> cloudbuild_v1.CloudBuildClient:
    return cloudbuild_v1.CloudBuildClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def _repository(emulator: EmulatorHandle, project: str) -> None:
    """The Docker repository the image goes to: pushing to a missing one fails, at Google as here."""
    client = artifactregistry_v1.ArtifactRegistryClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    client.create_repository(
        parent=f"projects/{project}/locations/{LOCATION}",
        repository_id="deployer",
        repository=artifactregistry_v1.Repository(format_=artifactregistry_v1.Repository.Format.DOCKER),
    ).result(timeout=30)


def _image(project: str) -> str:
    return f"{LOCATION}-docker.pkg.dev/{project}/deployer/api"


def _wait(client: cloudbuild_v1.CloudBuildClient, name: str) -> cloudbuild_v1.Build:
    deadline = time.monotonic() + 60
    while True:
        build = client.get_build(name=name)
        if build.status not in (cloudbuild_v1.Build.Status.QUEUED, cloudbuild_v1.Build.Status.WORKING):
            return build
        assert time.monotonic() < deadline, "the build did not finish"
        time.sleep(0.1)


# --- pure ----------------------------------------------------------------------------------------------------------


def test_build_body_builds_the_dockerfile_with_every_tag_and_registry_cache() -> None:
    body = build_body(SPEC)
    image = SPEC.image
    assert body["source"] == {
        "storageSource": {"bucket": "my-proj_cloudbuild", "object": "source/abc.tgz", "generation": "1700000000000001"}
    }
    # cloudbuild.yaml's build and push steps; its deploy step is for hand use (deployer deploys through the API).
    assert body["steps"] == [
        {
            "id": "build",
            "name": "gcr.io/cloud-builders/docker",
            "args": [
                "build",
                "-f",
                "docker/Dockerfile",
                "-t",
                f"{image}:src-0123456789abcdef01234567",
                "-t",
                f"{image}:git-0123456789ab",
                "-t",
                f"{image}:latest",
                "--cache-from",
                f"{image}:latest",
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1",
                ".",
            ],
            "env": ["DOCKER_BUILDKIT=1"],
        },
        {
            "id": "push",
            "name": "gcr.io/cloud-builders/docker",
            "args": ["push", f"{image}:src-0123456789abcdef01234567"],
        },
    ]
    assert body["images"] == [
        f"{image}:src-0123456789abcdef01234567",
        f"{image}:git-0123456789ab",
        f"{image}:latest",
    ]
    assert body["timeout"] == "1200s"
    assert body["tags"] == ["deployer", "deployer-api"]
    assert "options" not in body


def test_build_body_parses_strictly_as_a_cloud_build_build() -> None:
    build = cloudbuild_v1.Build.from_json(json.dumps(build_body(SPEC)), ignore_unknown_fields=False)
    assert build.source.storage_source.generation == 1700000000000001
    assert build.timeout.total_seconds() == 1200


def test_machine_type_becomes_an_option() -> None:
    spec = BuildSpec(**{**SPEC.__dict__, "machine_type": "E2_HIGHCPU_8"})
    body = build_body(spec)
    assert body["options"] == {"machineType": "E2_HIGHCPU_8"}
    build = cloudbuild_v1.Build.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert build.options.machine_type == cloudbuild_v1.BuildOptions.MachineType.E2_HIGHCPU_8


def test_the_top_level_cloudbuild_yaml_is_the_one_deployer_reads() -> None:
    top = (REPO_ROOT / "cloudbuild.yaml").read_text()
    assert top == cloudbuild_config_text()
    assert not list((REPO_ROOT / "deployer").rglob("cloudbuild.yaml"))  # one copy only


def test_it_parses_strictly_as_a_cloud_build_build() -> None:
    build = cloudbuild_v1.Build.from_json(json.dumps(_config()), ignore_unknown_fields=False)
    assert [step.id for step in build.steps] == ["build", "push", "deploy"]
    assert build.steps[0].name == "gcr.io/cloud-builders/docker"
    assert "--cache-from" in build.steps[0].args
    assert build.steps[2].entrypoint == "bash"
    assert build.timeout.total_seconds() == 1200
    assert build.images == ["${_IMAGE}:${_TAG}", "${_IMAGE}:latest"]


def test_substitutions_are_consistent_and_documented() -> None:
    config = _config()
    used = {a or b for a, b in _KEYS.findall(json.dumps({k: v for k, v in config.items() if k != "substitutions"}))}
    defaults = set(config["substitutions"])
    # Cloud Build fails a build on a substitution the file does not use (unless ALLOW_LOOSE): none is unused.
    assert defaults <= used
    # _IMAGE has no default on purpose: a build without it fails naming it, instead of pushing somewhere wrong.
    assert used - defaults == {"_IMAGE"}
    header = cloudbuild_config_text().split("\nsteps:", 1)[0]
    for key in used:
        assert f"#   {key} " in header, f"{key} is not documented in the file's header"


def test_deployer_fills_in_the_substitutions_and_leaves_out_the_deploy_step() -> None:
    spec = dataclasses.replace(SPEC, tags=("src-1", "git-2"), service="")
    body = build_body(spec)
    assert [step["id"] for step in body["steps"]] == ["build", "push"]
    assert "$" not in json.dumps(body)
    assert body["images"] == [f"{spec.image}:src-1", f"{spec.image}:git-2", f"{spec.image}:latest"]
    # The yaml's steps, as they are, with the values in: one source for both.
    steps = fill_substitutions(
        _config()["steps"][:2], {"_IMAGE": spec.image, "_TAG": "src-1", "_DOCKERFILE": spec.dockerfile}
    )
    steps[0]["args"][5:5] = ["-t", f"{spec.image}:git-2"]
    assert body["steps"] == steps


def test_fill_substitutions_keeps_escapes_and_built_ins() -> None:
    assert fill_substitutions("${_A}-$_A $$_A $$x $PROJECT_ID", {"_A": "v"}) == "v-v $$_A $$x $PROJECT_ID"
    with pytest.raises(KeyError):
        fill_substitutions("${_MISSING}", {})


def test_a_build_service_account_gets_a_logs_bucket_and_gcs_logging() -> None:
    spec = dataclasses.replace(
        SPEC, machine_type="E2_HIGHCPU_8", service_account="builder@my-proj.iam.gserviceaccount.com"
    )
    body = build_body(spec)
    assert body["serviceAccount"] == "projects/my-proj/serviceAccounts/builder@my-proj.iam.gserviceaccount.com"
    assert body["logsBucket"] == "gs://my-proj_cloudbuild/logs"
    assert body["options"] == {"machineType": "E2_HIGHCPU_8", "logging": "GCS_ONLY"}
    build = cloudbuild_v1.Build.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert build.options.logging == cloudbuild_v1.BuildOptions.LoggingMode.GCS_ONLY
    # A default account's email does not name its project: the spec's project does.
    compute = BuildSpec(**{**spec.__dict__, "service_account": "123-compute@developer.gserviceaccount.com"})
    with pytest.raises(ValueError, match=r"needs BuildSpec\.project"):
        build_body(compute)
    named = BuildSpec(**{**compute.__dict__, "project": "my-proj"})
    assert build_body(named)["serviceAccount"] == (
        "projects/my-proj/serviceAccounts/123-compute@developer.gserviceaccount.com"
    )


# --- emulator -------------------------------------------------------------------------------------------------------


def test_the_file_as_a_user_submits_it_builds_pushes_and_runs_the_deploy_step(emulator: EmulatorHandle) -> None:
    project = f"cy-{uuid.uuid4().hex[:10]}"
    _repository(emulator, project)
    build = cloudbuild_v1.Build.from_json(json.dumps(_config()), ignore_unknown_fields=False)
    # As gcloud does with --substitutions: the file's defaults, overridden by the caller's values.
    build.substitutions = {**_config()["substitutions"], "_IMAGE": _image(project), "_TAG": "v1"}
    client = _cb(emulator)
    operation = client.create_build(build=build, parent=f"projects/{project}/locations/{LOCATION}")
    final = _wait(client, operation.metadata.build.name)
    assert final.status == cloudbuild_v1.Build.Status.SUCCESS, final.status_detail
    assert list(final.images) == [f"{_image(project)}:v1", f"{_image(project)}:latest"]
    assert [image.name for image in final.results.images] == list(final.images)
    assert [step.args[:1] for step in final.steps[:2]] == [["build"], ["push"]]
    assert final.steps[2].args[1].startswith("set -euo pipefail")
    # Cloud Build's substitution, as the emulator applies it: $$ became $, the user's values went in.
    assert '--region="$region"' in final.steps[2].args[1]
    assert f'--image="{_image(project)}:v1"' in final.steps[2].args[1]


def test_the_file_without_its_image_is_refused_naming_it(emulator: EmulatorHandle) -> None:
    project = f"cy-{uuid.uuid4().hex[:10]}"
    build = cloudbuild_v1.Build.from_json(json.dumps(_config()), ignore_unknown_fields=False)
    with pytest.raises(exceptions.BadRequest, match="_IMAGE"):
        _cb(emulator).create_build(build=build, parent=f"projects/{project}/locations/{LOCATION}")


def test_deployer_body_with_a_service_account_writes_a_log_deployer_finds(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployer.gcp import GoogleCloud
    from deployer.services.build import _log_location

    monkeypatch.setenv("DEPLOYER_EMULATOR_URL", emulator.url)
    project = f"cy-{uuid.uuid4().hex[:10]}"
    cloud = GoogleCloud()
    _repository(emulator, project)
    bucket = f"{project}_cloudbuild"
    store = cloud.storage(project)
    store.create_bucket({"name": bucket, "location": "US"})
    archive = tmp_path / "context.tgz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(REPO_ROOT / "deployer" / "sample_app"), "."], check=True)
    stored = store.upload(bucket, "source/context.tgz", archive)
    spec = BuildSpec(
        bucket=bucket,
        object="source/context.tgz",
        generation=stored.generation,
        dockerfile="Dockerfile",
        image=_image(project),
        tags=("src-1",),
        timeout_s=600,
        service_account=f"builder@{project}.iam.gserviceaccount.com",
    )
    started = cloud.cloud_build.submit(project, LOCATION, build_body(spec))
    assert started.logs_bucket == f"gs://{bucket}/logs"
    log_bucket, log_object = _log_location(started)
    assert (log_bucket, log_object) == (bucket, f"logs/log-{started.id}.txt")
    deadline = time.monotonic() + 60
    while not cloud.cloud_build.get(project, LOCATION, started.id).done:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    log = store.read_from(log_bucket, log_object, 0)
    assert log is not None
    assert f'starting build "{started.id}"' in log.decode()
    posted = [
        r
        for r in emulator.requests()
        if r["method"] == "POST" and r["path"].endswith(f"{project}/locations/{LOCATION}/builds")
    ]
    assert [r["status"] for r in posted] == [200]


# --- gcloud ---------------------------------------------------------------------------------------------------------


@pytest.mark.gcloud
def test_gcloud_builds_submit_with_the_config(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = f"cg-{uuid.uuid4().hex[:10]}"
    _repository(emulator, project)
    source = tmp_path / "app"
    shutil.copytree(REPO_ROOT / "deployer" / "sample_app", source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
    env.update(
        CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
        CLOUDSDK_CORE_PROJECT=project,
        CLOUDSDK_AUTH_DISABLE_CREDENTIALS="true",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
        CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBUILD=f"{emulator.url}/",
        CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE=f"{emulator.url}/storage/v1/",
    )
    submitted = subprocess.run(
        [
            "gcloud", "builds", "submit", "--async", f"--region={LOCATION}",
            f"--config={REPO_ROOT / 'cloudbuild.yaml'}",
            f"--substitutions=_IMAGE={_image(project)},_TAG=v2,_DEPLOY_SERVICE=api",
            "--format=json", str(source),
        ],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    build = json.loads(submitted.stdout)
    assert build["substitutions"]["_DEPLOY_SERVICE"] == "api"
    assert build["substitutions"]["_DOCKERFILE"] == "Dockerfile"  # the file's default
    final = _wait(_cb(emulator), build["name"])
    assert final.status == cloudbuild_v1.Build.Status.SUCCESS, final.status_detail
    assert final.source.storage_source.bucket == f"{project}_cloudbuild"
    assert [step.id for step in final.steps] == ["build", "push", "deploy"]
    assert 'gcloud run deploy "api"' in final.steps[2].args[1]
