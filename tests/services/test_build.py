"""Builds (services/build.py) seen by gcloud, an independent client of the emulator: Artifact Registry
repositories and `gcloud builds submit`.

gcloud is isolated with its own CLOUDSDK_CONFIG; its properties are set through CLOUDSDK_* environment variables
(the same properties `gcloud config set` writes), pointing every API at the emulator.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from deployer_emulator.testing import gcloud_env

pytestmark = pytest.mark.gcloud

LOCATION = "us-central1"


def _gcloud(emulator: Any, home: Path, project: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = gcloud_env(emulator.url, home, ("cloudbuild", "artifactregistry", "storage"), project=project)
    return subprocess.run(["gcloud", *args], capture_output=True, text=True, env=env, timeout=180, check=False)


def _wait_build(emulator: Any, project: str, build_id: str) -> dict[str, Any]:
    url = f"{emulator.url}/v1/projects/{project}/locations/global/builds/{build_id}"
    deadline = time.monotonic() + 60
    while True:
        build: dict[str, Any] = requests.get(url, timeout=10).json()
        if build["status"] not in ("QUEUED", "WORKING") or time.monotonic() > deadline:
            return build
        time.sleep(0.1)


def _config(directory: Path, project: str) -> Path:
    config = directory / "cloudbuild.yaml"
    image = f"{LOCATION}-docker.pkg.dev/$PROJECT_ID/repo1/app:$_TAG"
    config.write_text(
        "steps:\n"
        "- name: gcr.io/cloud-builders/docker\n"
        f"  args: [build, --network, cloudbuild, -t, '{image}', .]\n"
        f"images: ['{image}']\n"
        "substitutions: {_TAG: v1}\n"
    )
    return config


def test_gcloud_repositories_and_builds_submit(emulator: Any, tmp_path: Path) -> None:
    project = f"gc-{uuid.uuid4().hex[:10]}"
    home = tmp_path / "gcloud"

    created = _gcloud(
        emulator, home, project, "artifacts", "repositories", "create", "repo1",
        "--repository-format=docker", f"--location={LOCATION}", "--quiet",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    described = _gcloud(
        emulator, home, project, "artifacts", "repositories", "describe", "repo1",
        f"--location={LOCATION}", "--format=json",
    )  # fmt: skip
    assert described.returncode == 0, described.stderr
    repo = json.loads(described.stdout)
    assert repo["name"] == f"projects/{project}/locations/{LOCATION}/repositories/repo1"
    assert repo["format"] == "DOCKER"
    assert repo["registryUri"] == f"{LOCATION}-docker.pkg.dev/{project}/repo1"
    again = _gcloud(
        emulator, home, project, "artifacts", "repositories", "create", "repo1",
        "--repository-format=docker", f"--location={LOCATION}", "--quiet",
    )  # fmt: skip
    assert again.returncode != 0
    assert "ALREADY_EXISTS" in again.stderr

    # A build without source, from a config file.
    config = _config(tmp_path, project)
    no_source = _gcloud(
        emulator, home, project, "builds", "submit", "--async", "--no-source", f"--config={config}", "--format=json"
    )
    assert no_source.returncode == 0, no_source.stderr
    submitted = json.loads(no_source.stdout)
    assert submitted["status"] == "QUEUED"
    assert submitted["images"] == [f"{LOCATION}-docker.pkg.dev/{project}/repo1/app:v1"]
    assert _wait_build(emulator, project, submitted["id"])["status"] == "SUCCESS"

    # A build of a source directory: gcloud creates <project>_cloudbuild, uploads the tarball, then submits.
    source_dir = tmp_path / "app"
    source_dir.mkdir()
    (source_dir / "Dockerfile").write_text("FROM scratch\nCOPY main.py /\n")
    (source_dir / "main.py").write_text("print('hi')\n")
    emulator.mark()
    with_source = _gcloud(
        emulator, home, project, "builds", "submit", "--async", f"--config={config}", "--format=json", str(source_dir)
    )
    assert with_source.returncode == 0, with_source.stderr
    build = _wait_build(emulator, project, json.loads(with_source.stdout)["id"])
    assert build["status"] == "SUCCESS"
    storage_source = build["source"]["storageSource"]
    assert storage_source["bucket"] == f"{project}_cloudbuild"
    assert storage_source["object"].startswith("source/")
    assert storage_source["object"].endswith(".tgz")
    calls = [(r["method"], r["path"], r["status"]) for r in emulator.requests()]
    assert ("POST", "/storage/v1/b", 200) in calls  # the bucket was created on gcloud's 404
    assert ("POST", f"/upload/storage/v1/b/{project}_cloudbuild/o", 200) in calls  # the LF multipart upload

    tag = requests.get(
        f"{emulator.url}/v1/projects/{project}/locations/{LOCATION}/repositories/repo1/packages/app/tags/v1",
        timeout=10,
    ).json()
    assert tag["version"].endswith(build["results"]["images"][0]["digest"])


def test_gcloud_sees_what_deployer_created(emulator: Any, tmp_path: Path) -> None:
    """deployer deploys; gcloud, an independent client, describes the repository and finds the build."""
    from typer.testing import CliRunner

    from deployer.cli.app import app

    project = f"gd-{uuid.uuid4().hex[:10]}"
    region = "europe-west4"
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "Dockerfile").write_text('FROM python:3.12-slim\nCMD ["python", "-V"]\n')
    (directory / "deployer.toml").write_text(f'project = "{project}"\nregion = "{region}"\n[services.api]\n')
    env = {"DEPLOYER_EMULATOR_URL": emulator.url, "CI": "1"}
    result = CliRunner().invoke(app, ["build", "-C", str(directory), "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    built = json.loads(result.stdout)

    home = tmp_path / "gcloud"
    described = _gcloud(
        emulator, home, project, "artifacts", "repositories", "describe", "deployer",
        f"--location={region}", "--format=json",
    )  # fmt: skip
    assert described.returncode == 0, described.stderr
    repo = json.loads(described.stdout)
    assert repo["format"] == "DOCKER"
    assert repo["labels"] == {"managed-by": "deployer"}

    shown = _gcloud(
        emulator, home, project, "builds", "describe", built["build_id"], f"--region={region}", "--format=json"
    )
    assert shown.returncode == 0, shown.stderr
    build = json.loads(shown.stdout)
    assert build["status"] == "SUCCESS"
    assert build["tags"] == ["deployer", "deployer-api"]
    assert f"{built['image']}:{built['tag']}" in build["images"]
