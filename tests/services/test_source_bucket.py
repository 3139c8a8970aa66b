"""Emulator tier: the source bucket (services/source_bucket.py) is created private, regional and forgetful, and a
bucket another project holds under this project's name never receives a source archive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud, Target
from deployer.reporter import SilentReporter
from deployer.services.build import BuildInputs, planned_build
from deployer_emulator.testing import EmulatorHandle, caller_credentials
from tests.cli.test_deploy_cmd import REGION, invoke, make_project

OWNER = "user:owner@example.com"
OURS = "source-ours"
SQUATTER = "source-squatter"
SQUATTED = f"{OURS}_{REGION}_cloudbuild"

# Another project holds our guessable bucket name, and has let our owner read its buckets (as a squatter would:
# a readable bucket looks like ours to a plain GET).
SCENARIO: dict[str, Any] = {
    "projects": [
        {
            "id": OURS,
            "services": ["storage.googleapis.com", "cloudbuild.googleapis.com", "artifactregistry.googleapis.com"],
            "iam": {"roles/owner": [OWNER]},
        },
        {
            "id": SQUATTER,
            "iam": {"roles/storage.admin": [OWNER]},
            "buckets": [{"name": SQUATTED, "location": "US"}],
        },
    ],
}


def _inputs(directory: Path, project: str, retention_days: int = 30) -> BuildInputs:
    make_project(directory, project=project)
    return BuildInputs(
        name="api",
        project=project,
        region=REGION,
        repository="deployer",
        context_dir=directory,
        dockerfile=directory / "Dockerfile",
        source_retention_days=retention_days,
    )


def _storage(emulator: EmulatorHandle, project: str) -> Any:
    return storage.Client(
        project=project, credentials=caller_credentials(OWNER), client_options={"api_endpoint": emulator.url}
    )


@pytest.fixture(scope="module")
def world(strict_emulator: Callable[[dict[str, Any]], EmulatorHandle]) -> EmulatorHandle:
    return strict_emulator(SCENARIO)


def test_a_bucket_of_another_project_is_refused_before_any_upload(world: EmulatorHandle, tmp_path: Path) -> None:
    cloud = GoogleCloud(Target(emulator_url=world.url, caller=OWNER))
    world.mark()
    with (
        planned_build(cloud, SilentReporter(), _inputs(tmp_path / "app", OURS)) as run,
        pytest.raises(DeployerError) as refused,
    ):
        run.plan.apply()
    assert f"gs://{SQUATTED} belongs to another project" in refused.value.message
    assert "nothing was uploaded" in refused.value.message
    assert "delete the bucket" in (refused.value.hint or "")
    sent = [f"{r['method']} {r['path']}" for r in world.mutating_requests()]
    assert not any("/upload/" in call or call.endswith("/builds") for call in sent), sent
    assert list(_storage(world, SQUATTER).list_blobs(SQUATTED)) == []


def test_the_source_bucket_is_regional_private_and_deletes_old_sources(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYER_EMULATOR_URL", emulator.url)
    project = "source-regional-1"
    cloud = GoogleCloud()
    with planned_build(cloud, SilentReporter(), _inputs(tmp_path / "app", project, retention_days=7)) as run:
        run.plan.steps[0].apply()
    bucket = _storage(emulator, project).get_bucket(f"{project}_{REGION}_cloudbuild")
    # An EU deploy keeps its sources in the EU: the bucket is in the deploy's region, not the US multi-region.
    assert (bucket.location, bucket.location_type) == (REGION.upper(), "region")
    assert bucket.iam_configuration.uniform_bucket_level_access_enabled is True
    assert bucket.iam_configuration.public_access_prevention == "enforced"
    assert [(rule["action"], rule["condition"]) for rule in bucket.lifecycle_rules] == [
        ({"type": "Delete"}, {"age": 7})
    ]
    assert str(bucket.project_number) == cloud.resource_manager.project_number(project)


def test_the_deploys_own_bucket_is_used_and_a_squatted_one_is_refused_with_exit_1(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    ours = make_project(tmp_path / "ours")
    assert invoke(emulator, "deploy", "-C", str(tmp_path / "ours"), "--json").exit_code == 0
    squatted = make_project(tmp_path / "squatted")
    _storage(emulator, "someone-else-42").create_bucket(f"{squatted}_{REGION}_cloudbuild", location="US")
    emulator.mark()
    result = invoke(emulator, "deploy", "-C", str(tmp_path / "squatted"))
    assert result.exit_code == 1, result.stderr
    assert "belongs to another project" in result.stderr
    assert "fix:" in result.stderr
    assert not any("/upload/" in r["path"] for r in emulator.mutating_requests())
    assert f"{ours}_{REGION}_cloudbuild" in [b.name for b in _storage(emulator, ours).list_buckets()]


@pytest.mark.parametrize("value", ["0", "3651", '"30"'])
def test_a_bad_source_retention_exits_2_and_sends_nothing(emulator: EmulatorHandle, tmp_path: Path, value: str) -> None:
    make_project(tmp_path / "app", extra=f"\n[build]\nsource_retention_days = {value}\n")
    emulator.mark()
    result = invoke(emulator, "deploy", "-C", str(tmp_path / "app"))
    assert result.exit_code == 2, result.stderr
    assert "source_retention_days" in result.stderr
    assert emulator.requests() == []


@pytest.mark.gcp
def test_live_the_source_bucket_is_ours_regional_and_private(tmp_path: Path) -> None:
    """Against a real project (DEPLOYER_LIVE_PROJECT, DEPLOYER_LIVE_REGION): the bucket step is applied and read."""
    import os

    project, region = os.environ.get("DEPLOYER_LIVE_PROJECT"), os.environ.get("DEPLOYER_LIVE_REGION", "europe-west4")
    if not project:
        pytest.skip("set DEPLOYER_LIVE_PROJECT to a project you own")
    cloud = GoogleCloud(Target(emulator_url=None))
    inputs = BuildInputs(
        name="api",
        project=project,
        region=region,
        repository="deployer",
        context_dir=tmp_path / "app",
        dockerfile=tmp_path / "app" / "Dockerfile",
    )
    make_project(tmp_path / "app", project=project)
    with planned_build(cloud, SilentReporter(), inputs) as run:
        run.plan.steps[0].apply()
    bucket = cloud.storage(project).client.get_bucket(f"{project}_{region}_cloudbuild")
    assert bucket.location == region.upper()
    assert bucket.iam_configuration.public_access_prevention == "enforced"
    assert str(bucket.project_number) == cloud.resource_manager.project_number(project)
