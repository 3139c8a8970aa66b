"""A build request's checks and substitutions (cloudbuild/config.py)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from cloudbuild_support import _cb, _project, _storage
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1


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
