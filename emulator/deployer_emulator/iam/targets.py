"""Who a caller stands for, which policies apply to a resource, and which API a request is attributed to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from deployer_emulator import world
from deployer_emulator.core import Emulator, Request
from deployer_emulator.iam.roles import role_grants


# -- who a member stands for -----------------------------------------------------------------------------------------
def _caller_members(caller: str) -> set[str]:
    members = {"allUsers"}
    if caller == "anonymous":
        return members
    members.add("allAuthenticatedUsers")
    members.add(_normalized_member(caller))
    kind, _, email = caller.partition(":")
    if kind in ("user", "group", "serviceAccount") and "@" in email:
        members.add(f"domain:{email.rsplit('@', 1)[1].lower()}")
    return members


def _policy_grants(
    policy: dict[str, Any], members: set[str], permission: str, custom: dict[str, Any] | None = None
) -> bool:
    for binding in policy.get("bindings", []):
        if not role_grants(str(binding.get("role", "")), permission, custom):
            continue
        if any(_normalized_member(m) in members for m in binding.get("members", [])):
            return True
    return False


def _normalized_member(member: str) -> str:
    kind, _, rest = member.partition(":")
    return f"{kind}:{rest.lower()}" if kind in ("user", "group", "serviceAccount", "domain") else member


# -- which policies apply to a resource ------------------------------------------------------------------------------
@dataclass
class Target:
    """Where a resource sits: its project (by id), the policies that apply, and whether it could be placed."""

    project_id: str | None = None
    project: dict[str, Any] | None = None
    policies: list[dict[str, Any]] = field(default_factory=list)
    service_account: dict[str, Any] | None = None
    placed: bool = True


def resolve(emulator: Emulator, resource: str, permission: str = "") -> Target:
    bucket = re.match(r"projects/_/buckets/([^/]+)", resource)
    if bucket:
        with emulator.state.lock:
            doc = emulator.state.table("storage.buckets").get(bucket[1])
            number = str(doc["projectNumber"]) if doc else None
        if number is None:
            return Target(placed=False)  # no such bucket: the surface answers 404
        return _project_target(emulator, number, permission)
    account = re.match(r"projects/([^/]+)/serviceAccounts/([^/]+)", resource)
    if account:
        found = world.find_service_account(emulator, account[2])
        email = found["email"] if found else account[2]
        owner = world.service_account_project(emulator, email) if "@" in email else None
        if owner is None and account[1] != "-":
            owner = world.project_id_of(emulator, account[1])
        target = _project_target(emulator, owner, permission) if owner else Target()
        target.service_account = found
        if found is not None:
            target.policies.insert(0, world.service_account_policy(emulator, found["email"]))
        return target
    project = re.match(r"projects/([^/]+)", resource)
    if project:
        return _project_target(emulator, project[1], permission)
    billing = re.match(r"billingAccounts/([^/]+)", resource)
    if billing:
        record = world.billing_account(emulator, f"billingAccounts/{billing[1]}")
        if record is None:
            return Target()
        policies = [record.get("policy") or world.empty_policy()]
        policies += world.ancestor_policies(emulator, str(record["account"].get("parent", "")))
        return Target(policies=policies)
    parent = re.match(r"(organizations|folders)/[^/]+", resource)
    if parent:
        return Target(policies=world.ancestor_policies(emulator, parent[0]))
    return Target()


def _project_target(emulator: Emulator, ref: str, permission: str) -> Target:
    project = world.find_project(emulator, ref)
    if project is None:
        return Target()
    project_id = str(project["projectId"])
    if project.get("state") != "ACTIVE" and not permission.startswith("resourcemanager.projects."):
        # A project pending deletion grants nothing but seeing and restoring it until it is restored.
        return Target(project_id=project_id, project=project)
    policies = [world.project_policy(emulator, project_id)]
    policies += world.ancestor_policies(emulator, str(project.get("parent", "")))
    return Target(project_id=project_id, project=project, policies=policies)


# -- which API a request calls -----------------------------------------------------------------------------------
_API_BY_PATH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/(?:storage|upload|download|resumable)/"), "storage.googleapis.com"),
    (re.compile(r"^/compute/"), "compute.googleapis.com"),
    (re.compile(r"^/v2/"), "run.googleapis.com"),
    (re.compile(r"^/v3/"), "cloudresourcemanager.googleapis.com"),
    (re.compile(r"^/v1/billingAccounts/[^/]+/budgets"), "billingbudgets.googleapis.com"),
    (re.compile(r"^/v1/(?:billingAccounts|projects/[^/]+/billingInfo)"), "cloudbilling.googleapis.com"),
    (re.compile(r"^/v1/projects/[^/]+/services"), "serviceusage.googleapis.com"),
    (
        re.compile(r"^/v1/projects/[^/]+/(?:serviceAccounts|roles|locations/global/workloadIdentityPools)"),
        "iam.googleapis.com",
    ),
    (
        re.compile(r"^/v1/projects/[^/]+(?:/locations/[^/]+)?/(?:builds|defaultServiceAccount)"),
        "cloudbuild.googleapis.com",
    ),
    (re.compile(r"^/v1/projects/[^/]+/locations(?:/[^/]+(?:/repositories.*)?)?$"), "artifactregistry.googleapis.com"),
    (re.compile(r"^/v1/projects/[^/:]+(?::[a-zA-Z]+)?$"), "cloudresourcemanager.googleapis.com"),
)
_API_BY_PERMISSION = {
    "artifactregistry": "artifactregistry.googleapis.com",
    "cloudbuild": "cloudbuild.googleapis.com",
    "compute": "compute.googleapis.com",
    "iam": "iam.googleapis.com",
    "logging": "logging.googleapis.com",
    "resourcemanager": "cloudresourcemanager.googleapis.com",
    "run": "run.googleapis.com",
    "serviceusage": "serviceusage.googleapis.com",
    "storage": "storage.googleapis.com",
}
# APIs whose calls count against the resource's project, and those that count against the caller's quota project.
_RESOURCE_BASED = {
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
}
_CLIENT_BASED = {"cloudresourcemanager.googleapis.com", "cloudbilling.googleapis.com", "billingbudgets.googleapis.com"}


def api_of(req: Request, permission: str) -> str:
    for pattern, api in _API_BY_PATH:
        if pattern.search(req.path):
            return api
    if permission.startswith("billing.budgets."):
        return "billingbudgets.googleapis.com"
    if permission.startswith("billing."):
        return "cloudbilling.googleapis.com"
    return _API_BY_PERMISSION.get(permission.split(".", 1)[0].split("/", 1)[0], "")
