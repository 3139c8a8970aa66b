"""Emulator tier: who may deploy what, after `deployer bootstrap --github OWNER/REPO --member user:dev@...` in the
strict world, where every request is checked against Google's own role definitions.

Acting as the CI deployer, a Cloud Run service and a GPU VM with ports deploy; acting as the runtime account,
deploying anything is refused before anything is created; acting as the team member, every kind deploys. And each
permission the adapters declare, taken away in turn, is named by doctor and stops the deploy before any change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer.services.permissions import deploy_permissions
from deployer_emulator.testing import EmulatorHandle

OWNER, DEV = "user:owner@example.com", "user:dev@example.com"  # who bootstraps; the team member
ORG_ID, ACCOUNT, REGION = "100000000009", "0000DD-BBBBBB-CCCCCC", "europe-west4"
SCENARIO: dict[str, Any] = {
    "organizations": [{"id": ORG_ID, "iam": {"roles/resourcemanager.projectCreator": [OWNER]}}],
    "billing_accounts": [{"id": ACCOUNT, "parent": f"organizations/{ORG_ID}", "iam": {"roles/billing.admin": [OWNER]}}],
}
VM = """
[vms.{name}]
machine_type = "g2-standard-8"
gpu = {{ type = "nvidia-l4", count = 1 }}
zone = "europe-west4-a"
ports = [8080]
"""


@pytest.fixture(scope="module")
def world(strict_emulator: Callable[[dict[str, Any]], EmulatorHandle]) -> EmulatorHandle:
    return strict_emulator(SCENARIO)


def invoke(emulator: EmulatorHandle, *args: str, caller: str = OWNER) -> Any:
    env = {"DEPLOYER_EMULATOR_URL": emulator.url, "DEPLOYER_EMULATOR_CALLER": caller, "NO_COLOR": "1", "CI": "1"}
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def project(world: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One bootstrapped project with a private service, a public one, GPU VMs with ports and Cloud Run jobs, for
    each identity."""
    project = f"id-{uuid.uuid4().hex[:12]}"
    directory = tmp_path_factory.mktemp("app")
    (directory / "Dockerfile").write_text('FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    (directory / "app.py").write_text("print('hello')\n")
    tables = "".join(
        f"\n[services.{name}]\npublic = {public}\n"
        for name, public in (("api", "false"), ("web", "true"), ("api-dev", "true"), ("web-gap", "true"))
    )
    tables += "".join(VM.format(name=name) for name in ("trainer", "trainer-dev", "trainer-gap"))
    tables += "".join(f'\n[jobs.{name}]\nargs = ["/app.py"]\n' for name in ("batch", "batch-dev", "batch-gap"))
    (directory / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{REGION}"\n{tables}\n[bootstrap]\nparent = "organizations/{ORG_ID}"\n'
    )
    done = invoke(
        world,
        "bootstrap",
        *("-C", str(directory), "--create", "--billing-account", ACCOUNT, "--member", DEV, "--yes"),
        *("--github", "o/r", "--github-repository-id", "1296269", "--github-owner-id", "1"),
    )
    assert done.exit_code == 0, done.stderr
    return project, directory


def deploy(world: EmulatorHandle, directory: Path, name: str, caller: str) -> Any:
    return invoke(world, "deploy", name, "-C", str(directory), "--yes", caller=caller)


def test_the_ci_deployer_deploys_a_service_a_public_one_a_gpu_vm_with_ports_and_a_job(
    world: EmulatorHandle, project: tuple[str, Path]
) -> None:
    project_id, directory = project
    ci = f"serviceAccount:deployer-ci@{project_id}.iam.gserviceaccount.com"
    world.mark()
    for name in ("api", "web", "trainer", "batch"):
        deployed = deploy(world, directory, name, ci)
        assert deployed.exit_code == 0, deployed.stderr
    assert {r["caller"] for r in world.requests()} == {ci}
    made = [r["path"] for r in world.mutating_requests()]
    assert any(path.endswith("/global/firewalls") for path in made)
    assert any(path.endswith("/instances") for path in made)
    assert any(path.endswith("/jobs") for path in made)


def test_the_runtime_account_may_deploy_nothing_and_nothing_is_made(
    world: EmulatorHandle, project: tuple[str, Path]
) -> None:
    project_id, directory = project
    runtime = f"serviceAccount:deployer-runtime@{project_id}.iam.gserviceaccount.com"
    for name in ("api", "trainer", "batch"):
        world.mark()
        refused = deploy(world, directory, name, runtime)
        assert refused.exit_code != 0
        assert "lacks" in refused.stderr
        assert world.mutating_requests() == []


def test_the_team_member_deploys_every_kind(world: EmulatorHandle, project: tuple[str, Path]) -> None:
    _, directory = project
    world.mark()
    for name in ("api-dev", "trainer-dev", "batch-dev"):
        deployed = deploy(world, directory, name, DEV)
        assert deployed.exit_code == 0, deployed.stderr
    assert {r["caller"] for r in world.requests()} == {DEV}


# Reads a deploy makes before its checks, that any deployer identity holds and that are not the adapters' own.
_AROUND = ("resourcemanager.projects.get", "serviceusage.services.list", "iam.serviceAccounts.get")


@pytest.mark.parametrize(
    ("target", "kind", "options"),
    [("trainer-gap", "vm", ("ports",)), ("web-gap", "service", ("public",)), ("batch-gap", "job", ())],
)
def test_each_permission_taken_away_is_named_by_doctor_and_stops_the_deploy_before_any_change(
    world: EmulatorHandle, project: tuple[str, Path], target: str, kind: str, options: tuple[str, ...]
) -> None:
    project_id, directory = project
    owner = world.as_caller(OWNER)
    needed = deploy_permissions(kind, *options)
    for index, permission in enumerate(needed):
        role_id = f"gap_{kind}_{index}_{uuid.uuid4().hex[:6]}"
        kept = [p for p in (*needed, *_AROUND) if p != permission]
        created = owner.post(
            f"{world.url}/v1/projects/{project_id}/roles",
            json={"roleId": role_id, "role": {"title": f"all but {permission}", "includedPermissions": kept}},
            timeout=10,
        )
        assert created.status_code == 200, created.text
        member = f"user:{role_id.replace('_', '-')}@example.com"
        url = f"{world.url}/v3/projects/{project_id}"
        policy = owner.post(f"{url}:getIamPolicy", json={}, timeout=10).json()
        policy["bindings"].append({"role": created.json()["name"], "members": [member]})
        owner.post(f"{url}:setIamPolicy", json={"policy": policy}, timeout=10).raise_for_status()
        runtime = f"deployer-runtime@{project_id}.iam.gserviceaccount.com"
        account = f"{world.url}/v1/projects/{project_id}/serviceAccounts/{runtime}"
        account_policy = owner.post(f"{account}:getIamPolicy", json={}, timeout=10).json()
        account_policy.setdefault("bindings", []).append({"role": "roles/iam.serviceAccountUser", "members": [member]})
        owner.post(f"{account}:setIamPolicy", json={"policy": account_policy}, timeout=10).raise_for_status()

        doctor = invoke(world, "doctor", "-C", str(directory), "--json", caller=member)
        assert f'"check": "permission {permission}"' in doctor.stdout, permission
        world.mark()
        refused = deploy(world, directory, target, member)
        assert refused.exit_code != 0, permission
        assert permission in refused.stderr, permission
        assert world.mutating_requests() == [], permission


def test_a_firewall_rule_refused_while_deploying_leaves_no_vm_behind(
    world: EmulatorHandle, project: tuple[str, Path]
) -> None:
    """Permissions checked, then taken away between the check and the write (403 on firewalls.insert)."""
    project_id, directory = project
    ci = f"serviceAccount:deployer-ci@{project_id}.iam.gserviceaccount.com"
    world.add_fault(
        path_regex=rf"^/compute/v1/projects/{project_id}/global/firewalls$",
        method="POST",
        status=403,
        error_status="PERMISSION_DENIED",
        times=1,
    )
    try:
        world.mark()
        refused = deploy(world, directory, "trainer-gap", ci)
    finally:
        world.clear_faults()
    assert refused.exit_code != 0
    assert not [r for r in world.mutating_requests() if r["path"].endswith("/instances")]
