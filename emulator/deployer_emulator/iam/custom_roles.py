"""Custom roles of a project: ``projects.roles.create`` and ``get`` (https://cloud.google.com/iam/docs/reference/
rest/v1/projects.roles). A custom role grants exactly its ``includedPermissions``; bindings may name it by its full
name ``projects/P/roles/ID``."""

from __future__ import annotations

import re
from typing import Any

from deployer_emulator.common import copy_doc
from deployer_emulator.core import Request
from deployer_emulator.errors import already_exists, invalid_argument, not_found
from deployer_emulator.iam.base import IamBase, _check_fields
from deployer_emulator.iam.roles import CUSTOM_ROLES

_ROLE_FIELDS: dict[str, Any] = {
    "deleted": bool,
    "description": str,
    "etag": str,
    "includedPermissions": list,
    "name": str,
    "stage": str,
    "title": str,
}
# CreateRoleRequest.roleId: "[a-zA-Z0-9_\.]{3,64}" (the role ID's rule in the IAM v1 reference).
_ROLE_ID_RE = re.compile(r"^[a-zA-Z0-9_.]{3,64}$")


class CustomRoles(IamBase):
    def create_role(self, req: Request, project: str) -> dict[str, Any]:
        body = req.json()
        _check_fields(body, {"roleId": str, "role": _ROLE_FIELDS}, "")
        self.emulator.authorize(req, "iam.roles.create", f"projects/{project}")
        role_id = str(body.get("roleId", ""))
        if not _ROLE_ID_RE.match(role_id):
            raise invalid_argument(
                f"The role ID {role_id!r} is invalid: 3 to 64 letters, digits, underscores or periods.",
                field="role_id",
            )
        role = dict(body.get("role") or {})
        for permission in role.get("includedPermissions", []):
            if "*" in str(permission) or "." not in str(permission):
                raise invalid_argument(f"Permission {permission} is not valid.")
        name = f"projects/{self._project(req, project)['projectId']}/roles/{role_id}"
        doc = {**role, "name": name, "stage": role.get("stage", "GA"), "etag": "BwWKmjvelug="}
        with self.emulator.mutation():
            table = self.emulator.state.table(CUSTOM_ROLES)
            if name in table:
                raise already_exists(f"A role named {role_id} in projects/{project} already exists.")
            table[name] = doc
        return copy_doc(doc)

    def get_role(self, req: Request, project: str, role: str) -> dict[str, Any]:
        name = f"projects/{project}/roles/{role}"
        self.emulator.authorize(req, "iam.roles.get", f"projects/{project}")
        with self.emulator.state.lock:
            doc = self.emulator.state.table(CUSTOM_ROLES).get(name)
        if doc is None:
            raise not_found(f"The role named {name} was not found.")
        return copy_doc(doc)
