"""A service's IAM policy: get, set (with the etag check), testIamPermissions."""

from __future__ import annotations

import base64
from typing import Any

from deployer_emulator import world
from deployer_emulator.common import copy_doc
from deployer_emulator.core import Request
from deployer_emulator.errors import invalid_argument
from deployer_emulator.iam.enforcer import permissions_held
from deployer_emulator.iam.policies import check_member_form, merge_bindings, store_policy
from deployer_emulator.iam.roles import check_role, unknown_role
from deployer_emulator.protos import parse_pb
from deployer_emulator.run.base import (
    _IAM_BASIC_ROLES,
    _RUN_PERMISSION_RE,
    POLICIES,
    _check_query,
)
from deployer_emulator.run.state import RunBase


def _check_run_role(role: str) -> None:
    check_role(role)
    if role.startswith("roles/") and not (role.startswith("roles/run.") or role in _IAM_BASIC_ROLES):
        # The rule: only roles that grant Cloud Run permissions apply to a service; Google's words for a role that
        # does not apply to the resource.
        raise unknown_role(role)


class Policies(RunBase):
    """The IAM policy handlers."""

    # -- IAM ---------------------------------------------------------------------------------------------------
    def get_iam_policy(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        _check_query(req, {"options.requestedPolicyVersion"})
        version = req.param("options.requestedPolicyVersion", "0") or "0"
        if version not in ("0", "1", "3"):
            raise invalid_argument(f"Invalid requested policy version: {version}. Valid values are 0, 1 and 3.")
        self.emulator.authorize(
            req, "run.services.getIamPolicy", f"projects/{project}/locations/{location}/services/{service}"
        )
        doc = self._service_doc(project, location, service)
        with self.emulator.state.lock:
            policy = self._table(POLICIES).get(doc["name"])
            return copy_doc(policy) if policy else world.empty_policy()

    def set_iam_policy(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        from google.iam.v1 import iam_policy_pb2
        from google.protobuf import json_format

        _check_query(req, set())
        request = iam_policy_pb2.SetIamPolicyRequest()
        parse_pb(req.body, request, "policy")
        policy = json_format.MessageToDict(request.policy)
        bindings = merge_bindings(policy.get("bindings", []), _check_run_role, check_member_form)
        self.emulator.authorize(
            req, "run.services.setIamPolicy", f"projects/{project}/locations/{location}/services/{service}"
        )
        name = self._service_doc(project, location, service)["name"]
        given = base64.b64encode(request.policy.etag).decode() if request.policy.etag else ""
        return store_policy(self.emulator, POLICIES, name, bindings, given)

    def test_iam_permissions(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        from google.iam.v1 import iam_policy_pb2

        _check_query(req, set())
        request = iam_policy_pb2.TestIamPermissionsRequest()
        parse_pb(req.body, request, "permissions")
        self._service_doc(project, location, service)
        for permission in request.permissions:
            if "*" in permission:
                # IAM rejects wildcards in permission checks.
                raise invalid_argument(f"Permissions ('{permission}') with wildcards (*) are not allowed.")
        if self.emulator.enforcer is not None:
            held = permissions_held(
                self.emulator,
                req,
                list(request.permissions),
                f"projects/{project}/locations/{location}/services/{service}",
            )
            return {"permissions": held} if held else {}
        # The open world makes the caller the project's owner: every Cloud Run permission on the service is held.
        held = [p for p in request.permissions if _RUN_PERMISSION_RE.fullmatch(p)]
        return {"permissions": held} if held else {}
