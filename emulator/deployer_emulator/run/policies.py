"""A service's IAM policy: get, set (with the etag check), testIamPermissions."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from deployer_emulator.common import policy_etag
from deployer_emulator.core import Request
from deployer_emulator.errors import ApiError, invalid_argument
from deployer_emulator.iam.enforcer import permissions_held
from deployer_emulator.run.base import (
    _EMPTY_POLICY_ETAG,
    _IAM_BASIC_ROLES,
    _IAM_CONFLICT,
    _IAM_MEMBER_RE,
    _RUN_PERMISSION_RE,
    POLICIES,
    _check_query,
    _parse_pb,
)
from deployer_emulator.run.state import RunBase


def _normalize_bindings(bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """IAM keeps one binding per role (and condition), without duplicate members, and drops empty bindings."""
    merged: dict[str, dict[str, Any]] = {}
    for index, binding in enumerate(bindings):
        role = binding.get("role", "")
        if not role:
            raise invalid_argument(f"Policy binding {index} has no role.", field=f"policy.bindings[{index}].role")
        if role.startswith("roles/") and not (role.startswith("roles/run.") or role in _IAM_BASIC_ROLES):
            # Unconfirmed wording; the rule: only roles that grant Cloud Run permissions apply to a service.
            raise invalid_argument(f"Role {role} is not supported for this resource.")
        if not role.startswith(("roles/", "projects/", "organizations/")):
            raise invalid_argument(f"Role {role} does not exist in the resource's hierarchy.")
        for member in binding.get("members", []):
            if not _IAM_MEMBER_RE.fullmatch(member):
                # Unconfirmed wording.
                raise invalid_argument(
                    f"Invalid member: '{member}'. A member is allUsers, allAuthenticatedUsers or a prefixed identity "
                    "(user:, serviceAccount:, group:, domain:, principal:, principalSet:)."
                )
        key = json.dumps([role, binding.get("condition")], sort_keys=True)
        entry = merged.setdefault(key, {"role": role, "members": []})
        if "condition" in binding:
            entry["condition"] = binding["condition"]
        for member in binding.get("members", []):
            if member not in entry["members"]:
                entry["members"].append(member)
    return [b for b in merged.values() if b["members"]]


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
            return copy.deepcopy(policy) if policy else {"version": 1, "etag": _EMPTY_POLICY_ETAG}

    def set_iam_policy(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        from google.iam.v1 import iam_policy_pb2
        from google.protobuf import json_format

        _check_query(req, set())
        request = iam_policy_pb2.SetIamPolicyRequest()
        _parse_pb(req.body, request, "policy")
        policy = json_format.MessageToDict(request.policy)
        bindings = _normalize_bindings(policy.get("bindings", []))
        self.emulator.authorize(
            req, "run.services.setIamPolicy", f"projects/{project}/locations/{location}/services/{service}"
        )
        name = self._service_doc(project, location, service)["name"]
        with self.emulator.mutation():
            current = self._table(POLICIES).get(name) or {"version": 1, "etag": _EMPTY_POLICY_ETAG}
            given = base64.b64encode(request.policy.etag).decode() if request.policy.etag else ""
            if given and given != current["etag"]:
                raise ApiError("ABORTED", _IAM_CONFLICT)
            new: dict[str, Any] = {
                "version": 3 if any("condition" in b for b in bindings) else 1,
                "etag": policy_etag(),
            }
            if bindings:
                new["bindings"] = bindings
            self._table(POLICIES)[name] = new
            return copy.deepcopy(new)

    def test_iam_permissions(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        from google.iam.v1 import iam_policy_pb2

        _check_query(req, set())
        request = iam_policy_pb2.TestIamPermissionsRequest()
        _parse_pb(req.body, request, "permissions")
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
