"""Pure tier: every role deployer names, and every claim it makes about what a role grants, checked against Google's
own role definitions (the emulator's data file, Google's roles.get output), never against a table typed here."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from deployer.gcp.errors import ROLE_FOR_PERMISSION
from deployer.services import permissions, roles
from deployer_emulator.iam.roles import role_data

GOOGLE: dict[str, frozenset[str]] = {name: frozenset(doc["permissions"]) for name, doc in role_data()["roles"].items()}


def granted(grants: tuple[roles.Grant, ...]) -> frozenset[str]:
    return frozenset().union(*(GOOGLE[grant.role] for grant in grants))


def roles_named_in(module: Any) -> set[str]:
    """Every ``roles/...`` string in a module's source: the grants, the constants, the words of a reason."""
    import re

    return set(re.findall(r"\broles/[A-Za-z0-9_.]*[A-Za-z0-9_]", inspect.getsource(module)))


def unknown_roles(names: set[str]) -> set[str]:
    return {name for name in names if name not in GOOGLE}


def test_every_role_deployer_names_is_one_google_defines() -> None:
    assert unknown_roles(roles_named_in(roles)) == set()
    assert unknown_roles(set(ROLE_FOR_PERMISSION.values())) == set()


def test_a_misspelt_role_in_roles_py_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    source = inspect.getsource(roles).replace('"roles/run.admin"', '"roles/run.admim"', 1)
    monkeypatch.setattr(inspect, "getsource", lambda _module: source)
    assert unknown_roles(roles_named_in(roles)) == {"roles/run.admim"}


def test_each_role_for_a_permission_really_grants_it() -> None:
    wrong = {p: role for p, role in ROLE_FOR_PERMISSION.items() if p not in GOOGLE[role]}
    assert wrong == {}


def test_every_permission_a_deploy_needs_names_a_role_that_grants_it() -> None:
    assert [p for p in permissions.every_deploy_permission() if p not in ROLE_FOR_PERMISSION] == []


def test_the_ci_deployer_holds_what_deploying_every_kind_needs_but_no_iam_admin() -> None:
    held = granted(roles.ci_roles(vms=True))
    needed = set(permissions.every_deploy_permission()) - set(permissions.REPOSITORY_PERMISSIONS)
    assert sorted(needed - held) == []
    assert "resourcemanager.projects.setIamPolicy" not in held
    assert "iam.serviceAccounts.actAs" not in held  # only on the build and runtime accounts' own policies
    assert "iam.serviceAccounts.create" not in held


def test_a_team_member_holds_what_deploying_every_kind_needs() -> None:
    held = granted(roles.developer_roles(vms=True))
    needed = set(permissions.every_deploy_permission()) - set(permissions.REPOSITORY_PERMISSIONS)
    assert sorted(needed - held) == []


def test_without_vms_neither_gets_compute_roles() -> None:
    for grants in (roles.ci_roles(vms=False), roles.developer_roles(vms=False)):
        assert not any(grant.role.startswith("roles/compute.") for grant in grants)


def test_the_runtime_account_holds_nothing_project_wide_but_a_vms_pull_and_logs() -> None:
    assert roles.runtime_account_roles(vms=False) == ()
    held = granted(roles.runtime_account_roles(vms=True))
    assert {"artifactregistry.repositories.downloadArtifacts", "logging.logEntries.create"} <= held
    assert not any(p.startswith(("run.", "compute.", "cloudbuild.", "storage.")) for p in held)
    asked = roles.runtime_account_roles(vms=False, workload_roles=("roles/storage.objectViewer",))
    assert [grant.role for grant in asked] == ["roles/storage.objectViewer"]


def test_the_build_account_reads_the_source_writes_logs_and_pushes() -> None:
    held = granted(roles.build_account_roles())
    assert {"storage.objects.get", "logging.logEntries.create", "artifactregistry.repositories.uploadArtifacts"} <= held
    assert not any(p.startswith(("run.", "compute.")) for p in held)


def test_every_grant_says_why() -> None:
    for grant in (*roles.ci_roles(vms=True), *roles.build_account_roles(), *roles.developer_roles(vms=True)):
        assert len(grant.reason) > 10


def test_service_account_emails() -> None:
    assert roles.service_account_email("deployer-build", "my-proj") == "deployer-build@my-proj.iam.gserviceaccount.com"
    assert roles.service_account_email("x-y-z1", "example.com:p") == "x-y-z1@p.example.com.iam.gserviceaccount.com"
