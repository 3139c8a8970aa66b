"""The IAM v1 routes, and the surface made of its parts."""

from __future__ import annotations

from typing import Any

from deployer_emulator.core import Emulator, Request
from deployer_emulator.iam.custom_roles import CustomRoles
from deployer_emulator.iam.service_accounts import ServiceAccounts
from deployer_emulator.iam.workload_identity import WorkloadIdentity


class Iam(ServiceAccounts, WorkloadIdentity, CustomRoles):
    """IAM v1 as one object: each base holds one job; routes call its handlers."""


def register(emulator: Emulator) -> None:
    iam = Iam(emulator)
    router = emulator.router
    accounts = "/v1/projects/{project}/serviceAccounts"
    router.add("POST", accounts, iam.create_service_account)
    router.add("GET", accounts, iam.list_service_accounts)
    router.add("GET", accounts + "/{account}", iam.get_service_account)
    router.add("PATCH", accounts + "/{account}", iam.patch_service_account)
    router.add("DELETE", accounts + "/{account}", iam.delete_service_account)
    router.add("POST", accounts + "/{account}:getIamPolicy", iam.get_account_policy)
    router.add("POST", accounts + "/{account}:setIamPolicy", iam.set_account_policy)
    router.add("POST", accounts + "/{account}:testIamPermissions", iam.test_account_permissions)
    router.add("POST", "/v1/projects/{project}/roles", iam.create_role)
    router.add("GET", "/v1/projects/{project}/roles/{role}", iam.get_role)
    pools = "/v1/projects/{project}/locations/{location}/workloadIdentityPools"
    router.add("POST", pools, iam.create_pool)
    router.add("GET", pools, iam.list_pools)
    router.add("GET", pools + "/{pool}", iam.get_pool)
    router.add("PATCH", pools + "/{pool}", iam.patch_pool)
    router.add("DELETE", pools + "/{pool}", iam.delete_pool)
    router.add("POST", pools + "/{pool}:undelete", iam.undelete_pool)
    router.add("POST", pools + "/{pool}/providers", iam.create_provider)
    router.add("GET", pools + "/{pool}/providers", iam.list_providers)
    router.add("GET", pools + "/{pool}/providers/{provider}", iam.get_provider)
    router.add("PATCH", pools + "/{pool}/providers/{provider}", iam.patch_provider)
    router.add("DELETE", pools + "/{pool}/providers/{provider}", iam.delete_provider)
    router.add("POST", pools + "/{pool}/providers/{provider}:undelete", iam.undelete_provider)
    router.add("GET", pools + "/{rest=**}/operations/{operation}", _operation_route(iam))


def _operation_route(iam: Iam) -> Any:
    def get(req: Request, project: str, location: str, rest: str, operation: str) -> dict[str, Any]:
        return iam.get_operation(req, project, location, f"{rest}/operations/{operation}")

    return get
