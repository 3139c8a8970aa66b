"""Service accounts: create, get, list, patch, delete, and their IAM policies."""

from __future__ import annotations

from typing import Any

from deployer_emulator import world
from deployer_emulator.common import copy_doc
from deployer_emulator.core import Request, paginate
from deployer_emulator.errors import ApiError, invalid_argument, not_found
from deployer_emulator.iam.base import IamBase, _check_fields
from deployer_emulator.iam.enforcer import permissions_held
from deployer_emulator.iam.policies import (
    parse_set_policy,
    parse_test_permissions,
    policy_for_version,
    requested_policy_version,
    set_policy,
)

# -- IAM v1 surface: request bodies ------------------------------------------------------------------------------
_SERVICE_ACCOUNT_FIELDS: dict[str, Any] = {
    "description": str,
    "disabled": bool,
    "displayName": str,
    "email": str,
    "etag": str,
    "name": str,
    "oauth2ClientId": str,
    "projectId": str,
    "uniqueId": str,
}


class ServiceAccounts(IamBase):
    """The service account handlers."""

    def create_service_account(self, req: Request, project: str) -> dict[str, Any]:
        body = req.json()
        _check_fields(body, {"accountId": str, "serviceAccount": _SERVICE_ACCOUNT_FIELDS}, "")
        account_id = str(body.get("accountId", ""))
        self.emulator.authorize(req, "iam.serviceAccounts.create", f"projects/{project}")
        if not world.SERVICE_ACCOUNT_ID_RE.match(account_id):
            # Unconfirmed wording; the rule is CreateServiceAccountRequest.accountId's: 6-30 characters matching
            # [a-z]([-a-z0-9]*[a-z0-9]).
            raise invalid_argument(
                f"Invalid account ID '{account_id}': it must be 6 to 30 characters, start with a lowercase letter, "
                "contain only lowercase letters, digits and hyphens, and end with a letter or digit.",
                field="account_id",
            )
        details = body.get("serviceAccount") or {}
        if len(details.get("displayName", "").encode()) > 100:
            raise invalid_argument("displayName must be at most 100 bytes.", field="service_account.display_name")
        if len(details.get("description", "").encode()) > 256:
            raise invalid_argument("description must be at most 256 bytes.", field="service_account.description")
        project_id = str(self._project(req, project)["projectId"])
        email = world.service_account_email(account_id, project_id)
        with self.emulator.mutation():
            if world.find_service_account(self.emulator, email) is not None:
                # "Service account builder already exists within project projects/regrep-test." with a ResourceInfo.
                raise ApiError(
                    "ALREADY_EXISTS",
                    f"Service account {account_id} already exists within project projects/{project_id}.",
                    details=[
                        {
                            "@type": "type.googleapis.com/google.rpc.ResourceInfo",
                            "resourceName": f"projects/{project_id}/serviceAccounts/{email}",
                        }
                    ],
                )
            return world.store_service_account(
                self.emulator,
                project_id,
                email,
                display_name=details.get("displayName", ""),
                description=details.get("description", ""),
            )

    def _account(self, req: Request, project: str, account: str, permission: str) -> dict[str, Any]:
        self.emulator.authorize(req, permission, f"projects/{project}/serviceAccounts/{account}")
        found = world.find_service_account(self.emulator, account)
        if found is None or (project != "-" and world.project_id_of(self.emulator, project) != found["projectId"]):
            # IAM's 404 for an account it does not know.
            raise not_found(f"Unknown service account: projects/{project}/serviceAccounts/{account}")
        return found

    def get_service_account(self, req: Request, project: str, account: str) -> dict[str, Any]:
        return self._account(req, project, account, "iam.serviceAccounts.get")

    def list_service_accounts(self, req: Request, project: str) -> dict[str, Any]:
        self.emulator.authorize(req, "iam.serviceAccounts.list", f"projects/{project}")
        project_id = str(self._project(req, project)["projectId"])
        with self.emulator.state.lock:
            accounts = sorted(
                (copy_doc(d) for d in self.emulator.state.table(world.SERVICE_ACCOUNTS).values()),
                key=lambda d: d["email"],
            )
        mine = [a for a in accounts if a["projectId"] == project_id]
        # ListServiceAccountsRequest.pageSize: "The default is 20, and the maximum is 100."
        return paginate(mine, req, key="accounts", default=20, maximum=100)

    def patch_service_account(self, req: Request, project: str, account: str) -> dict[str, Any]:
        body = req.json()
        _check_fields(body, {"serviceAccount": _SERVICE_ACCOUNT_FIELDS, "updateMask": str}, "")
        found = self._account(req, project, account, "iam.serviceAccounts.update")
        given = body.get("serviceAccount") or {}
        fields = [f.strip() for f in str(body.get("updateMask", "")).split(",") if f.strip()]
        for name in fields:
            if name not in ("displayName", "description", "display_name"):
                # PatchServiceAccountRequest: "You can patch only the display_name and description fields."
                raise invalid_argument(f"Invalid update mask path: {name}", field="update_mask")
        with self.emulator.mutation():
            stored = self.emulator.state.table(world.SERVICE_ACCOUNTS)[found["email"].lower()]
            for name in fields:
                key = "displayName" if name == "display_name" else name
                if given.get(key):
                    stored[key] = given[key]
                else:
                    stored.pop(key, None)
            return copy_doc(stored)

    def delete_service_account(self, req: Request, project: str, account: str) -> dict[str, Any]:
        found = self._account(req, project, account, "iam.serviceAccounts.delete")
        with self.emulator.mutation():
            self.emulator.state.table(world.SERVICE_ACCOUNTS).pop(found["email"].lower(), None)
            self.emulator.state.table(world.SERVICE_ACCOUNT_POLICIES).pop(found["email"].lower(), None)
        return {}

    def get_account_policy(self, req: Request, project: str, account: str) -> dict[str, Any]:
        version = requested_policy_version(req)
        found = self._account(req, project, account, "iam.serviceAccounts.getIamPolicy")
        return policy_for_version(world.service_account_policy(self.emulator, found["email"]), version)

    def set_account_policy(self, req: Request, project: str, account: str) -> dict[str, Any]:
        bindings, etag, _ = parse_set_policy(req)
        found = self._account(req, project, account, "iam.serviceAccounts.setIamPolicy")
        return set_policy(self.emulator, world.SERVICE_ACCOUNT_POLICIES, found["email"].lower(), bindings, etag)

    def test_account_permissions(self, req: Request, project: str, account: str) -> dict[str, Any]:
        permissions = parse_test_permissions(req)
        found = world.find_service_account(self.emulator, account)
        if found is None:
            raise not_found(f"Unknown service account: projects/{project}/serviceAccounts/{account}")
        held = permissions_held(self.emulator, req, permissions, f"projects/{project}/serviceAccounts/{found['email']}")
        return {"permissions": held} if held else {}
