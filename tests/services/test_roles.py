"""Pure tier: the role tables bootstrap grants, checked against the permissions doctor tests for."""

from __future__ import annotations

from deployer.services import roles
from deployer.services.doctor import (
    BUILD_PERMISSIONS,
    PUBLIC_PERMISSION,
    SERVICE_PERMISSIONS,
    VM_PERMISSIONS,
)


def test_every_granted_role_has_a_reason_and_is_known_to_doctor() -> None:
    for grant in (
        *roles.build_account_roles(),
        *roles.runtime_account_roles(vms=True),
        *roles.developer_roles(vms=True),
    ):
        assert grant.role.startswith("roles/")
        assert len(grant.reason) > 10
        assert grant.role in roles.ROLE_PERMISSIONS or grant.role in (
            "roles/logging.viewer",
            "roles/serviceusage.serviceUsageConsumer",
        )


def test_the_build_account_roles_cover_what_doctor_checks() -> None:
    granted = roles.permissions_of({grant.role for grant in roles.build_account_roles()})
    assert set(roles.BUILD_ACCOUNT_NEEDS) <= granted


def test_a_developer_holds_every_permission_doctor_tests_for_each_kind_of_target() -> None:
    granted = roles.permissions_of({grant.role for grant in roles.developer_roles(vms=True)})
    wanted = {*BUILD_PERMISSIONS, *SERVICE_PERMISSIONS, PUBLIC_PERMISSION, *VM_PERMISSIONS}
    assert wanted <= granted


def test_the_deploy_account_can_deploy_private_services_but_not_change_iam() -> None:
    granted = roles.permissions_of({grant.role for grant in roles.runtime_account_roles(vms=False)})
    assert {*BUILD_PERMISSIONS, *SERVICE_PERMISSIONS} <= granted
    assert PUBLIC_PERMISSION not in granted
    assert "resourcemanager.projects.setIamPolicy" not in granted


def test_service_account_emails() -> None:
    assert roles.service_account_email("deployer-build", "my-proj") == "deployer-build@my-proj.iam.gserviceaccount.com"
    assert roles.service_account_email("x-y-z1", "example.com:p") == "x-y-z1@p.example.com.iam.gserviceaccount.com"
