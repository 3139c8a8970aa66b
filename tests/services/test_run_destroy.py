"""`deployer destroy NAME` for a Cloud Run service and a Cloud Run job, in a strict world: it deletes what deployer
made (a service with its revisions and its IAM policy, a job with its executions) and nothing else; a foreign service
and a foreign job beside them are refused and stay.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.cloud import run_v2
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer_emulator.testing import EmulatorHandle, rest_client

REGION = "europe-west4"
PROJECT = "destroy-world"
OWNER = "user:owner@example.com"
ACCOUNT = "0000DD-BBBBBB-CCCCCC"
IMAGE = "docker.io/library/python:3.12-slim"
PARENT = f"projects/{PROJECT}/locations/{REGION}"

SCENARIO: dict[str, Any] = {
    "billing_accounts": [{"id": ACCOUNT, "iam": {"roles/billing.admin": [OWNER]}}],
    "projects": [
        {
            "id": PROJECT,
            "billing_account": ACCOUNT,
            "services": ["run.googleapis.com", "iam.googleapis.com"],
            "iam": {"roles/owner": [OWNER]},
        }
    ],
}


@pytest.fixture(scope="module")
def world(strict_emulator: Callable[[dict[str, Any]], EmulatorHandle]) -> EmulatorHandle:
    handle = strict_emulator(SCENARIO)
    client = rest_client(run_v2.ServicesClient, handle, OWNER)
    for service_id, labels in (("api", {"managed-by": "deployer"}), ("foreign", {"team": "data"})):
        service = run_v2.Service(
            labels=labels, template=run_v2.RevisionTemplate(containers=[run_v2.Container(image=IMAGE)])
        )
        client.create_service(parent=PARENT, service_id=service_id, service=service).result(timeout=60)
    jobs = rest_client(run_v2.JobsClient, handle, OWNER)
    for job_id, labels in (("train", {"managed-by": "deployer"}), ("nightly", {"team": "data"})):
        task = run_v2.TaskTemplate(containers=[run_v2.Container(image=IMAGE)])
        job = run_v2.Job(labels=labels, template=run_v2.ExecutionTemplate(template=task))
        jobs.create_job(parent=PARENT, job_id=job_id, job=job).result(timeout=60)
    # The public access deploy sets for a public service: a binding on the service's own policy.
    client.set_iam_policy(
        request={
            "resource": f"{PARENT}/services/api",
            "policy": {"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]},
        }
    )
    return handle


def _invoke(world: EmulatorHandle, directory: Path, *args: str) -> Any:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "deployer.toml").write_text(
        f'project = "{PROJECT}"\nregion = "{REGION}"\n\n[services.api]\n\n[services.foreign]\n'
        f'\n[jobs.train]\nimage = "{IMAGE}"\n\n[jobs.nightly]\nimage = "{IMAGE}"\n'
    )
    env = {"DEPLOYER_EMULATOR_URL": world.url, "DEPLOYER_EMULATOR_CALLER": OWNER, "NO_COLOR": "1", "CI": "1"}
    return CliRunner().invoke(app, [*args, "-C", str(directory)], env=env, catch_exceptions=False)


def _destroy_sends_one_delete(world: EmulatorHandle, directory: Path, name: str, collection: str) -> None:
    """``destroy NAME --yes`` deletes it with one DELETE and names the image it leaves."""
    done = _invoke(world, directory, "destroy", name, "--yes")
    assert done.exit_code == 0, done.stderr + done.stdout
    assert f"Cloud Run {collection.removesuffix('s')} {name}: deleted" in done.stdout
    assert f"left in Artifact Registry: {IMAGE}" in done.stdout
    (delete,) = world.mutating_requests()
    assert delete["method"] == "DELETE"
    assert delete["path"].endswith(f"/{collection}/{name}")


def _services(world: EmulatorHandle) -> set[str]:
    return set(world.state().get("run.services", {}))


def test_destroy_deletes_only_the_service_deployer_made(world: EmulatorHandle, tmp_path: Path) -> None:
    before = world.state()
    assert {f"{PARENT}/services/api", f"{PARENT}/services/foreign"} <= set(before["run.services"])
    assert f"{PARENT}/services/api" in before["run.iam"]

    world.mark()
    refused = _invoke(world, tmp_path, "destroy", "foreign", "--yes")
    assert refused.exit_code == 1
    assert "was not created by deployer (no managed-by=deployer label)" in refused.stderr
    assert world.mutating_requests() == []

    dry = _invoke(world, tmp_path, "destroy", "api", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["steps"][0]["request"]["method"] == "DELETE"
    assert world.mutating_requests() == []

    asked = _invoke(world, tmp_path, "destroy", "api")  # no terminal to ask on, no --yes: refused
    assert asked.exit_code == 2
    assert world.mutating_requests() == []

    _destroy_sends_one_delete(world, tmp_path, "api", "services")

    after = world.state()
    assert set(after["run.services"]) == set(before["run.services"]) - {f"{PARENT}/services/api"}
    assert f"{PARENT}/services/api" not in after.get("run.iam", {})  # its binding (allUsers invoker) went with it
    assert not [r for r in after.get("run.revisions", {}) if "/services/api/" in r]
    assert [r for r in after.get("run.revisions", {}) if "/services/foreign/" in r]
    # Everything outside Cloud Run is as it was (projects, IAM, billing, registries).
    untouched = {k for k in before if not k.startswith("run.") and k != "operations"}
    assert {k: after.get(k) for k in untouched} == {k: before[k] for k in untouched}

    again = _invoke(world, tmp_path, "destroy", "api", "--yes")
    assert again.exit_code == 0
    assert "nothing to delete" in again.stdout


def test_destroy_with_images_deletes_the_image_it_ran(emulator: EmulatorHandle, tmp_path: Path) -> None:
    """Open world: deploy builds (recorded without an engine) and pushes an image; --images deletes that version."""
    project = f"ds-{uuid.uuid4().hex[:10]}"
    (tmp_path / "Dockerfile").write_text('FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    (tmp_path / "app.py").write_text("print('v1')\n")
    (tmp_path / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n\n[services.api]\n')
    env = {"DEPLOYER_EMULATOR_URL": emulator.url, "NO_COLOR": "1", "CI": "1"}
    deployed = CliRunner().invoke(app, ["deploy", "-C", str(tmp_path), "--json"], env=env, catch_exceptions=False)
    assert deployed.exit_code == 0, deployed.stderr
    doc = json.loads(deployed.stdout)
    image = f"{doc['image']}@{doc['digest']}"

    def images() -> list[str]:
        return [
            n for n in emulator.state().get("artifactregistry.dockerImages", {}) if f"/projects/{project}/" in f"/{n}"
        ]

    ran = [n for n in images() if n.endswith(f"@{doc['digest']}")]
    assert len(ran) == 1
    others = [n for n in images() if n not in ran]
    gone = CliRunner().invoke(
        app, ["destroy", "api", "--images", "--yes", "-C", str(tmp_path)], env=env, catch_exceptions=False
    )
    assert gone.exit_code == 0, gone.stderr + gone.stdout
    assert f"deleted from Artifact Registry: {image}" in gone.stdout
    assert images() == others  # only the version the service ran
    assert f"projects/{project}/locations/{REGION}/services/api" not in emulator.state().get("run.services", {})


def test_destroy_deletes_only_the_job_deployer_made(world: EmulatorHandle, tmp_path: Path) -> None:
    before = world.state()
    assert {f"{PARENT}/jobs/train", f"{PARENT}/jobs/nightly"} <= set(before["run.jobs"])

    world.mark()
    refused = _invoke(world, tmp_path, "destroy", "nightly", "--yes")
    assert refused.exit_code == 1
    assert "Cloud Run job nightly was not created by deployer" in refused.stderr
    assert world.mutating_requests() == []

    _destroy_sends_one_delete(world, tmp_path, "train", "jobs")

    after = world.state()
    assert set(after["run.jobs"]) == set(before["run.jobs"]) - {f"{PARENT}/jobs/train"}
    untouched = {k for k in before if k != "run.jobs" and k != "operations"}
    assert {k: after.get(k) for k in untouched} == {k: before[k] for k in untouched}
