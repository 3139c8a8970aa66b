"""Emulator tier: `deployer bootstrap` and `deployer doctor` through the CLI, against a strict-world emulator.

The issue's "done when": a brand-new project bootstrapped from nothing passes doctor and takes a deploy made only
with the accounts bootstrap created; a second bootstrap sends no mutating request; doctor --json reports exactly the
three problems of a broken project, with their fixes, and exits 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import billing_v1, resourcemanager_v3, service_usage_v1
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer.services import roles
from deployer_emulator.testing import EmulatorHandle, caller_credentials, gcloud_env

REGION = "europe-west4"
OWNER = "user:owner@example.com"
ORG_ID = "100000000003"
ORG = f"organizations/{ORG_ID}"
ACCOUNT = "0000CC-BBBBBB-CCCCCC"

SCENARIO: dict[str, Any] = {
    "organizations": [{"id": ORG_ID, "iam": {"roles/resourcemanager.projectCreator": [OWNER]}}],
    "billing_accounts": [{"id": ACCOUNT, "parent": ORG, "iam": {"roles/billing.admin": [OWNER]}}],
}


def make_app(directory: Path, project: str, *, public: bool = False) -> Path:
    """A small app with a Dockerfile and a deployer.toml whose [bootstrap] says where new projects go."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text('FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    (directory / "app.py").write_text("print('hello')\n")
    (directory / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{REGION}"\n\n[services.api]\npublic = {str(public).lower()}\n\n'
        f'[bootstrap]\nparent = "{ORG}"\n'
    )
    return directory


def invoke(emulator: EmulatorHandle, *args: str, caller: str = OWNER) -> Any:
    env = {
        "DEPLOYER_EMULATOR_URL": emulator.url,
        "DEPLOYER_EMULATOR_CALLER": caller,
        "NO_COLOR": "1",
        "CI": "1",
    }
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def bootstrapped_app(emulator: EmulatorHandle, tmp_path: Path) -> tuple[str, Path]:
    """A new project with an app in it, bootstrapped: its project id and the app's folder."""
    project = new_project()
    directory = make_app(tmp_path / "app", project)
    assert bootstrap(emulator, directory).exit_code == 0
    return project, directory


def new_project() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


def bootstrap(emulator: EmulatorHandle, directory: Path, *extra: str, caller: str = OWNER) -> Any:
    return invoke(
        emulator,
        "bootstrap",
        "-C",
        str(directory),
        "--create",
        "--billing-account",
        ACCOUNT,
        "--member",
        "user:a@x.com",
        "--github",
        "o/r",
        "--github-repository-id",
        "1296269",
        "--github-owner-id",
        "1",
        "--yes",
        *extra,
        caller=caller,
    )


def test_bootstrap_from_nothing_then_doctor_is_clean_and_a_second_run_sends_nothing(
    world: EmulatorHandle, isolated_env: Path, tmp_path: Path
) -> None:
    project = new_project()
    directory = make_app(tmp_path / "app", project)
    result = bootstrap(world, directory)
    assert result.exit_code == 0, result.stderr
    ci = f"deployer-ci@{project}.iam.gserviceaccount.com"
    for name in ("GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT", "GCP_PROJECT", "GCP_REGION"):
        assert f"gh variable set {name} --body " in result.stdout
    assert f'gh variable set GCP_SERVICE_ACCOUNT --body "{ci}" --repo o/r' in result.stdout
    assert "/workloadIdentityPools/deployer-github/providers/github" in result.stdout

    doctor = invoke(world, "doctor", "-C", str(directory), "--json")
    assert doctor.exit_code == 0, doctor.stdout
    report = json.loads(doctor.stdout)
    assert report["errors"] == 0
    assert report["ok"] is True

    world.mark()
    again = bootstrap(world, directory)
    assert again.exit_code == 0, again.stderr
    assert world.mutating_requests() == []
    assert "already set up: nothing changed" in again.stderr

    as_json = bootstrap(world, directory, "--json")
    document = json.loads(as_json.stdout)
    assert document["changed"] is False
    assert {step["action"] for step in document["steps"]} == {"noop"}
    assert document["github"]["variables"]["GCP_PROJECT"] == project


def test_deploy_succeeds_as_the_ci_deployer_bootstrap_made(
    world: EmulatorHandle, isolated_env: Path, tmp_path: Path
) -> None:
    project, directory = bootstrapped_app(world, tmp_path)
    ci = f"serviceAccount:deployer-ci@{project}.iam.gserviceaccount.com"
    world.mark()
    deployed = invoke(world, "deploy", "-C", str(directory), "--json", caller=ci)
    assert deployed.exit_code == 0, deployed.stderr
    document = json.loads(deployed.stdout)
    assert document["digest"].startswith("sha256:")
    # Everything was done as the CI deployer: nobody else's credentials were used.
    assert {r["caller"] for r in world.requests()} == {ci}


def test_doctor_json_reports_exactly_billing_off_api_disabled_and_no_act_as(
    world: EmulatorHandle, isolated_env: Path, tmp_path: Path
) -> None:
    project, directory = bootstrapped_app(world, tmp_path)
    ci = "user:ci@example.com"
    options = {
        "credentials": caller_credentials(OWNER),
        "transport": "rest",
        "client_options": {"api_endpoint": world.url},
    }
    projects = resourcemanager_v3.ProjectsClient(**options)
    policy = projects.get_iam_policy(request={"resource": f"projects/{project}"})
    for grant in roles.developer_roles(vms=False):
        policy.bindings.add(role=grant.role, members=[ci])
    projects.set_iam_policy(request={"resource": f"projects/{project}", "policy": policy})
    billing_v1.CloudBillingClient(**options).update_project_billing_info(
        name=f"projects/{project}", project_billing_info=billing_v1.ProjectBillingInfo(billing_account_name="")
    )
    service_usage_v1.ServiceUsageClient(**options).disable_service(
        request={"name": f"projects/{project}/services/run.googleapis.com"}
    ).result(timeout=60)

    world.mark()
    doctor = invoke(world, "doctor", "-C", str(directory), "--json", caller=ci)
    assert doctor.exit_code == 1
    report = json.loads(doctor.stdout)
    found = {f["check"]: f for f in report["findings"] if f["severity"] == "error"}
    assert sorted(found) == ["act as service accounts", "api run.googleapis.com", "billing"]
    assert report["errors"] == 3
    assert all(f["fix"] for f in found.values())
    assert found["billing"]["fix"] == f"deployer bootstrap --project {project} --billing-account ACCOUNT_ID"
    assert "gcloud services enable run.googleapis.com" in found["api run.googleapis.com"]["fix"]
    assert "iam.serviceAccounts.actAs" in found["act as service accounts"]["found"]
    assert world.mutating_requests() == []

    text = invoke(world, "doctor", "-C", str(directory), caller=ci)
    assert text.exit_code == 1
    assert "ERROR    billing:" in text.stdout
    assert "fix: deployer bootstrap --project" in text.stdout


def test_without_yes_and_without_a_terminal_nothing_is_changed(
    world: EmulatorHandle, isolated_env: Path, tmp_path: Path
) -> None:
    directory = make_app(tmp_path / "app", new_project())
    world.mark()
    result = invoke(world, "bootstrap", "-C", str(directory), "--create", "--billing-account", ACCOUNT)
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert "+ create  projects/" in result.stdout  # the plan was shown first
    assert world.mutating_requests() == []


def test_dry_run_shows_every_request_and_sends_none(world: EmulatorHandle, isolated_env: Path, tmp_path: Path) -> None:
    project = new_project()
    directory = make_app(tmp_path / "app", project)
    world.mark()
    result = invoke(
        world, "bootstrap", "-C", str(directory), "--create", "--billing-account", ACCOUNT, "--dry-run", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert world.mutating_requests() == []
    steps = json.loads(result.stdout)["steps"]
    create = steps[0]
    assert create["request"] == {
        "method": "POST",
        "url": "/v3/projects",
        "body": {"projectId": project, "displayName": project, "labels": {"managed-by": "deployer"}, "parent": ORG},
    }
    assert all("request" in step for step in steps if step["action"] != "noop")


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--member", "alice@example.com"], "--member 'alice@example.com'"),
        (["--github", "not a repo"], "--github 'not a repo'"),
        (["--budget", "0"], "--budget 0.0"),
        (["--billing-account", "nope"], "--billing-account 'nope'"),
        (["--project", "Bad_Project"], "--project"),
        (["--project", "my-google-app", "--create"], "may not contain 'google'"),
    ],
)
def test_bad_flags_exit_2_before_any_request(
    world: EmulatorHandle, isolated_env: Path, tmp_path: Path, flags: list[str], words: str
) -> None:
    directory = make_app(tmp_path / "app", new_project())
    world.mark()
    result = invoke(world, "bootstrap", "-C", str(directory), "--yes", *flags)
    assert result.exit_code == 2
    assert words in result.stderr
    assert world.requests() == []


def test_doctor_without_a_project_is_bad_input(world: EmulatorHandle, isolated_env: Path, tmp_path: Path) -> None:
    result = invoke(world, "doctor", "-C", str(tmp_path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["exit_code"] == 2


@pytest.mark.gcloud
def test_gcloud_sees_the_policy_and_the_apis_bootstrap_set(
    world: EmulatorHandle, isolated_env: Path, tmp_path: Path
) -> None:
    project, _ = bootstrapped_app(world, tmp_path)
    token = tmp_path / "token"
    token.write_text(f"emulator:{OWNER}")
    env = gcloud_env(world.url, tmp_path / "gcloud", ("cloudresourcemanager", "serviceusage"), token_file=token)
    gcloud = shutil.which("gcloud")
    assert gcloud is not None

    def run(*args: str) -> Any:
        done = subprocess.run([gcloud, *args, "--format=json"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    policy = run("projects", "get-iam-policy", project)
    bindings = {b["role"]: set(b["members"]) for b in policy["bindings"]}
    assert "user:a@x.com" in bindings["roles/run.admin"]
    assert (
        f"serviceAccount:deployer-build@{project}.iam.gserviceaccount.com" in bindings["roles/artifactregistry.writer"]
    )
    enabled = {service["config"]["name"] for service in run("services", "list", "--enabled", "--project", project)}
    assert {
        "run.googleapis.com",
        "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com",
        "iam.googleapis.com",
    } <= enabled


def test_the_terminal_table_prints_findings_as_text_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    from deployer.cli.doctor_cmd import _render_table

    finding = {"check": "billing", "severity": "error", "found": "set billing_account in [bootstrap]", "fix": "[b]x"}
    _render_table({"project": "p", "errors": 1, "warnings": 0, "findings": [finding]})
    shown = capsys.readouterr().out
    assert "[bootstrap]" in shown
    assert "[b]x" in shown
    assert "project p is not ready: 1 error(s), 0 warning(s)" in shown
