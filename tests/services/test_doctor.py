"""Emulator tier: `deployer doctor`'s checks against a strict-world emulator, and deployer's role tables against the
emulator's enforcement of them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import billing_v1, resourcemanager_v3, service_usage_v1

from deployer.config import ResolvedConfig, load_config
from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud, Target
from deployer.gcp.errors import ROLE_FOR_PERMISSION
from deployer.reporter import SilentReporter
from deployer.services import roles
from deployer.services.bootstrap import BASE_APIS, BootstrapInputs, Bootstrapper
from deployer.services.doctor import (
    Severity,
    preflight_for_deploy,
    require_ready,
    run_doctor,
)
from deployer.services.permissions import deploy_permissions
from deployer_emulator.testing import EmulatorHandle, caller_credentials

REGION = "europe-west4"
OWNER = "user:owner@example.com"
ORG_ID = "100000000002"
ORG = f"organizations/{ORG_ID}"
ACCOUNT = "0000BB-BBBBBB-CCCCCC"
ROLE_PROJECT = "role-table-check"
PLAIN_PROJECT = "never-bootstrapped"


def _member_for(role: str) -> str:
    return "user:" + role.removeprefix("roles/").replace(".", "-").lower() + "@example.com"


SCENARIO: dict[str, Any] = {
    "organizations": [{"id": ORG_ID, "iam": {"roles/resourcemanager.projectCreator": [OWNER]}}],
    "billing_accounts": [{"id": ACCOUNT, "iam": {"roles/billing.admin": [OWNER]}}],
    "projects": [
        {
            "id": ROLE_PROJECT,
            "billing_account": ACCOUNT,
            "iam": {role: [_member_for(role)] for role in set(ROLE_FOR_PERMISSION.values())},
        },
        {
            "id": PLAIN_PROJECT,
            "billing_account": ACCOUNT,
            "services": [api for api in BASE_APIS if api not in ("storage.googleapis.com", "logging.googleapis.com")],
            "iam": {"roles/owner": [OWNER]},
        },
    ],
}


def cloud(emulator: EmulatorHandle, caller: str = OWNER) -> GoogleCloud:
    return GoogleCloud(Target(emulator_url=emulator.url, caller=caller))


def bootstrapped(emulator: EmulatorHandle, **extra: Any) -> str:
    project = f"dr-{uuid.uuid4().hex[:12]}"
    given = BootstrapInputs(
        project=project,
        region=REGION,
        repository="deployer",
        create=True,
        parent=ORG,
        billing_account=ACCOUNT,
        caller=OWNER,
        **extra,
    )
    bootstrapper = Bootstrapper(cloud(emulator), SilentReporter())
    bootstrapper.apply(bootstrapper.plan(given))
    return project


def config_for(directory: Path, project: str, services: str = "[services.api]\n") -> ResolvedConfig:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n{services}')
    return load_config(directory, environ={})


def grant(emulator: EmulatorHandle, project: str, member: str, *roles_to_grant: str) -> None:
    client = resourcemanager_v3.ProjectsClient(
        credentials=caller_credentials(OWNER), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    policy = client.get_iam_policy(request={"resource": f"projects/{project}"})
    for role in roles_to_grant:
        policy.bindings.add(role=role, members=[member])
    client.set_iam_policy(request={"resource": f"projects/{project}", "policy": policy})


def errors(findings: list[Any]) -> dict[str, Any]:
    return {f.check: f for f in findings if f.severity is Severity.ERROR}


# --- the role tables, against the emulator's enforcement --------------------------------------------------------------


def test_role_for_permission_grants_that_permission_in_the_emulator(world: EmulatorHandle) -> None:
    for permission in ROLE_FOR_PERMISSION:
        member = _member_for(ROLE_FOR_PERMISSION[permission])
        held = cloud(world, member).resource_manager.test_permissions(ROLE_PROJECT, [permission])
        assert held == {permission}, f"{ROLE_FOR_PERMISSION[permission]} does not grant {permission}"


# --- doctor -----------------------------------------------------------------------------------------------------------


def test_a_bootstrapped_project_has_no_errors_for_its_owner(world: EmulatorHandle, tmp_path: Path) -> None:
    project = bootstrapped(world)
    world.mark()
    report = run_doctor(cloud(world), config_for(tmp_path, project))
    assert report.errors == []
    assert report.warnings == []
    assert world.mutating_requests() == []
    checks = {f.check for f in report.findings}
    assert {"credentials", "project", "billing", "apis", "permissions", "build account", "runtime account"} <= checks
    assert "act as service accounts" in checks


def test_a_developer_member_is_ready_too(world: EmulatorHandle, tmp_path: Path) -> None:
    developer = "user:dev@example.com"
    project = bootstrapped(world, members=(developer,))
    report = run_doctor(cloud(world, developer), config_for(tmp_path, project, "[services.api]\npublic = true\n"))
    assert [f.check for f in report.errors] == []


def test_billing_off_api_disabled_and_no_act_as_are_exactly_three_errors(world: EmulatorHandle, tmp_path: Path) -> None:
    project = bootstrapped(world)
    ci = "user:ci@example.com"
    # ci may do everything a deploy needs at the project level, but may not act as the deploy account.
    grant(world, project, ci, *(g.role for g in roles.developer_roles(vms=False)))
    billing = billing_v1.CloudBillingClient(
        credentials=caller_credentials(OWNER), transport="rest", client_options={"api_endpoint": world.url}
    )
    billing.update_project_billing_info(
        name=f"projects/{project}", project_billing_info=billing_v1.ProjectBillingInfo(billing_account_name="")
    )
    usage = service_usage_v1.ServiceUsageClient(
        credentials=caller_credentials(OWNER), transport="rest", client_options={"api_endpoint": world.url}
    )
    usage.disable_service(request={"name": f"projects/{project}/services/run.googleapis.com"}).result(timeout=60)

    report = run_doctor(cloud(world, ci), config_for(tmp_path, project))
    found = errors(report.findings)
    assert sorted(found) == ["act as service accounts", "api run.googleapis.com", "billing"]
    assert found["billing"].fix == f"deployer bootstrap --project {project} --billing-account ACCOUNT_ID"
    assert found["api run.googleapis.com"].fix.startswith(f"deployer bootstrap --project {project}")
    assert "iam.serviceAccounts.actAs" in found["act as service accounts"].found
    assert f"--member {ci}" in found["act as service accounts"].fix


def test_each_missing_permission_is_named_with_a_role_that_grants_it(world: EmulatorHandle, tmp_path: Path) -> None:
    project = bootstrapped(world)
    viewer = "user:viewer@example.com"
    grant(world, project, viewer, "roles/run.viewer", "roles/serviceusage.serviceUsageConsumer")
    config = config_for(tmp_path, project, "[services.api]\npublic = true\n")
    report = run_doctor(cloud(world, viewer), config)
    missing = {
        check.removeprefix("permission "): f for check, f in errors(report.findings).items() if "permission" in check
    }
    viewer_holds = {"run.services.get", "run.operations.get", "run.services.getIamPolicy"}
    assert set(missing) == set(deploy_permissions("service", "public")) - viewer_holds
    assert "cannot deploy service api (public)" in missing["run.services.setIamPolicy"].found
    for permission, finding in missing.items():
        assert ROLE_FOR_PERMISSION[permission] in finding.found
        assert ROLE_FOR_PERMISSION[permission] in finding.fix
    assert f"deployer bootstrap --project {project} --member {viewer}" in missing["run.services.create"].fix


def test_a_project_that_does_not_exist_is_one_error_with_the_bootstrap_command(
    world: EmulatorHandle, tmp_path: Path
) -> None:
    report = run_doctor(cloud(world), config_for(tmp_path, "no-such-project-here"))
    assert [(f.check, f.severity) for f in report.findings if f.severity is not Severity.OK] == [
        ("project", Severity.ERROR)
    ]
    assert "deployer bootstrap --project no-such-project-here --create" in report.errors[0].fix


def test_a_project_without_bootstrap_accounts_gets_warnings_that_point_at_bootstrap(
    world: EmulatorHandle, tmp_path: Path
) -> None:
    report = run_doctor(cloud(world), config_for(tmp_path, PLAIN_PROJECT))
    assert report.errors == []
    warned = {f.check: f for f in report.warnings}
    assert set(warned) == {"build account", "runtime account"}
    assert warned["build account"].fix == f"deployer bootstrap --project {PLAIN_PROJECT}"


def test_preflight_for_deploy_checks_only_the_target_and_stops_with_the_fixes(
    world: EmulatorHandle, tmp_path: Path
) -> None:
    project = bootstrapped(world)
    config = config_for(tmp_path, project, "[services.api]\n[services.web]\npublic = true\n")
    stranger = "user:stranger@example.com"
    grant(world, project, stranger, "roles/run.developer", "roles/cloudbuild.builds.editor", "roles/storage.admin")
    world.mark()
    findings = preflight_for_deploy(cloud(world, stranger), config, "api")
    assert world.mutating_requests() == []
    assert "permission run.services.setIamPolicy" not in errors(findings)  # only web is public
    assert "act as service accounts" in errors(findings)
    with pytest.raises(DeployerError) as caught:
        require_ready(findings)
    assert "iam.serviceAccounts.actAs" in caught.value.message
    assert caught.value.hint is not None
    assert f"--member {stranger}" in caught.value.hint
    web = errors(preflight_for_deploy(cloud(world, stranger), config, "web"))
    assert "permission run.services.setIamPolicy" in web
    require_ready([f for f in findings if f.severity is not Severity.ERROR])


def test_a_gpu_vm_needs_the_accelerator_in_the_region_and_quota_above_zero(
    world: EmulatorHandle, tmp_path: Path
) -> None:
    project = bootstrapped(world, vms=True)
    config = config_for(tmp_path, project, '[vms.trainer]\nmachine_type = "g2-standard-8"\n')
    try:
        world.settings(compute_quota_overrides={REGION: {"NVIDIA_L4_GPUS": 0}})
        found = errors(run_doctor(cloud(world), config).findings)
        assert list(found) == ["gpu trainer"]
        assert "NVIDIA_L4_GPUS quota in europe-west4 is 0" in found["gpu trainer"].found
        assert "quotas" in found["gpu trainer"].fix

        world.settings(compute_quota_overrides={REGION: {"NVIDIA_L4_GPUS": 4}, "global": {"GPUS_ALL_REGIONS": 0}})
        found = errors(run_doctor(cloud(world), config).findings)
        assert "GPUS_ALL_REGIONS quota is 0" in found["gpu trainer"].found

        world.settings(compute_quota_overrides={REGION: {"NVIDIA_L4_GPUS": 4}, "global": {"GPUS_ALL_REGIONS": 4}})
        report = run_doctor(cloud(world), config)
        assert report.errors == []
        gpu = next(f for f in report.findings if f.check == "gpu trainer")
        assert gpu.severity is Severity.OK
        assert "nvidia-l4 offered in europe-west4-" in gpu.found
    finally:
        world.settings(compute_quota_overrides={})
