"""IAM policies: setIamPolicy and testIamPermissions bodies, members checked, versions, the etag check."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from deployer_emulator import world
from deployer_emulator.common import copy_doc, policy_etag
from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import ApiError, invalid_argument
from deployer_emulator.iam.base import POOLS
from deployer_emulator.iam.roles import check_role, custom_roles
from deployer_emulator.protos import parse_pb
from deployer_emulator.world import MEMBER_RE

# Resource Manager, Cloud Run and IAM answer a stale policy etag with 409 ABORTED in these words.
CONCURRENT_POLICY_CHANGE = (
    "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
)
_WIF_MEMBER_RE = re.compile(
    r"principal(?:Set)?://iam\.googleapis\.com/(?P<pool>projects/(?P<project>[^/]+)/locations/global/"
    r"workloadIdentityPools/(?P<id>[^/]+))/(?P<rest>.+)"
)


# -- IAM policies ------------------------------------------------------------------------------------------------
def parse_set_policy(req: Request) -> tuple[list[dict[str, Any]], str, str]:
    """A SetIamPolicyRequest body, strictly: (bindings, the etag as sent in base64 or "", update_mask)."""
    from google.iam.v1 import iam_policy_pb2
    from google.protobuf import json_format

    request = iam_policy_pb2.SetIamPolicyRequest()
    parse_pb(req.body, request, "policy")
    if not request.HasField("policy"):
        raise invalid_argument("policy is required.", field="policy")
    policy = json_format.MessageToDict(request.policy)
    etag = base64.b64encode(request.policy.etag).decode() if request.policy.etag else ""
    return policy.get("bindings", []), etag, json_format.MessageToDict(request).get("updateMask", "")


def requested_policy_version(req: Request) -> int:
    """``options.requestedPolicyVersion`` from the body (POST getIamPolicy) or the query (GET forms)."""
    from google.iam.v1 import iam_policy_pb2

    raw = req.param("options.requestedPolicyVersion") or req.param("options_requestedPolicyVersion")
    if raw is None and req.method == "POST":
        request = iam_policy_pb2.GetIamPolicyRequest()
        parse_pb(req.body, request, "options")
        raw = str(request.options.requested_policy_version)
    version = (raw or "0").strip()
    if version not in ("0", "1", "3"):
        raise invalid_argument(f"Invalid requested policy version: {version}. Valid values are 0, 1 and 3.")
    return int(version)


def parse_test_permissions(req: Request) -> list[str]:
    from google.iam.v1 import iam_policy_pb2

    request = iam_policy_pb2.TestIamPermissionsRequest()
    parse_pb(req.body, request, "permissions")
    return list(request.permissions)


def normalize_bindings(emulator: Emulator, bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Members must be well formed, service accounts must exist, and a Workload Identity principal must name an
    existing pool by project number, and roles must be ones Google defines (or existing custom roles), as Google
    checks them at setIamPolicy."""
    custom = custom_roles(emulator)
    return merge_bindings(
        bindings, lambda role: check_role(role, custom), lambda member: _check_member(emulator, member)
    )


def merge_bindings(
    bindings: list[dict[str, Any]], check_role: Callable[[str], None], check_member: Callable[[str], None]
) -> list[dict[str, Any]]:
    """IAM keeps one binding per role and condition, without duplicate members, and drops empty bindings; each
    role and member is checked first (the resource's own rules: ``check_role``, ``check_member``)."""
    merged: dict[str, dict[str, Any]] = {}
    for index, binding in enumerate(bindings):
        role = str(binding.get("role", ""))
        if not role:
            raise invalid_argument(f"Policy binding {index} has no role.", field=f"policy.bindings[{index}].role")
        check_role(role)
        for member in binding.get("members", []):
            check_member(member)
        key = json.dumps([role, binding.get("condition")], sort_keys=True)
        entry = merged.setdefault(key, {"role": role, "members": []})
        if "condition" in binding:
            entry["condition"] = binding["condition"]
        for member in binding.get("members", []):
            if member not in entry["members"]:
                entry["members"].append(member)
    return [b for b in merged.values() if b["members"]]


def check_member_form(member: str) -> None:
    if not MEMBER_RE.fullmatch(member):
        # Unconfirmed wording.
        raise invalid_argument(
            f"Invalid member: '{member}'. A member is allUsers, allAuthenticatedUsers or a prefixed identity "
            "(user:, serviceAccount:, group:, domain:, principal:, principalSet:)."
        )


def _check_member(emulator: Emulator, member: str) -> None:
    check_member_form(member)
    if member.startswith("serviceAccount:"):
        email = member.split(":", 1)[1]
        owner = world.service_account_project(emulator, email)
        managed = email.lower().endswith((".iam.gserviceaccount.com", "@developer.gserviceaccount.com"))
        if owner is not None and managed and world.find_service_account(emulator, email) is None:
            # "INVALID_ARGUMENT: Service account x@p.iam.gserviceaccount.com does not exist."
            raise invalid_argument(f"Service account {email} does not exist.")
    wif = _WIF_MEMBER_RE.fullmatch(member)
    if wif:
        with emulator.state.lock:
            pool = emulator.state.table(POOLS).get(wif["pool"])
        if pool is None or pool.get("state") != "ACTIVE":
            # Google's words for a principal naming a pool that does not exist; the pool name must use the project
            # number (terraform-google-modules/terraform-google-kubernetes-engine#916).
            raise invalid_argument(
                f"Identity Pool does not exist ({wif['pool']}). Please check that you specified a valid resource "
                "name as returned in the `name` attribute in the configuration API."
            )


def set_policy(
    emulator: Emulator, table: str, key: str, bindings: list[dict[str, Any]], given_etag: str
) -> dict[str, Any]:
    """Replace the policy stored at ``table[key]`` unless ``given_etag`` is stale (409 ABORTED)."""
    return store_policy(emulator, table, key, normalize_bindings(emulator, bindings), given_etag)


def store_policy(
    emulator: Emulator, table: str, key: str, normalized: list[dict[str, Any]], given_etag: str
) -> dict[str, Any]:
    """Store checked bindings as the policy at ``table[key]`` with a new etag, unless ``given_etag`` is stale."""
    with emulator.mutation():
        current = emulator.state.table(table).get(key) or world.empty_policy()
        if given_etag and given_etag != current.get("etag"):
            raise ApiError("ABORTED", CONCURRENT_POLICY_CHANGE)
        new: dict[str, Any] = {
            "version": 3 if any("condition" in b for b in normalized) else 1,
            "etag": policy_etag(),
        }
        if normalized:
            new["bindings"] = normalized
        emulator.state.table(table)[key] = new
        return copy_doc(new)


def policy_for_version(policy: dict[str, Any], requested: int) -> dict[str, Any]:
    """A policy with conditional bindings is only shown to a caller that asks for version 3."""
    if any("condition" in b for b in policy.get("bindings", [])) and requested < 3:
        # https://cloud.google.com/iam/docs/policies#versions: such requests are rejected.
        raise invalid_argument(
            "The policy contains conditional role bindings: request policy version 3 "
            "(options.requestedPolicyVersion) to read it."
        )
    return policy
