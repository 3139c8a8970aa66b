"""IAM: the enforcer every surface answers to, IAM policies, and the IAM v1 REST surface.

**The enforcer** (installed as ``emulator.enforcer`` in the strict world; the open world has none and allows all).
``emulator.authorize(req, permission, resource)`` asks it, once per request, before a surface reads or changes
anything:

1. The caller is the member in the request's bearer token (``emulator:<member>``, core.caller_from_headers).
2. The API the request calls must be enabled, and past its propagation delay, on the project the request is
   attributed to, or the answer is Google's 403 SERVICE_DISABLED. Resource-based APIs (Compute, Cloud Run, Cloud
   Build, Artifact Registry, Cloud Storage, IAM, Logging) are attributed to the resource's project; client-based
   ones (Resource Manager, Cloud Billing, Billing Budgets) to the caller's quota project: the
   ``x-goog-user-project`` header, else a service account caller's own project, else Google's own project for
   user credentials without one, where everything is enabled
   (https://cloud.google.com/docs/quotas/quota-project). Service Usage itself never is.
3. The caller must hold ``permission`` on ``resource``: the union, over the IAM policies that apply (the resource's
   project, its folders and organization; a service account's own policy for permissions on it; a billing
   account's policy and its organization's), of the bindings whose members include the caller (``allUsers``,
   ``allAuthenticatedUsers`` and ``domain:`` members included). Roles map to permissions with ``ROLES`` below.
   Conditions on bindings are kept but not evaluated: a conditional binding grants like a plain one.
   Otherwise the answer is the 403 of the API called, in its own words (``_denied``).

A resource the enforcer cannot place (a bucket that does not exist) is let through, so the surface answers its
own 404, as Google does.

**Roles.** ``ROLES`` holds the predefined roles deployer meets, each with the permissions it really has in the
families that matter here (run, cloudbuild, artifactregistry, storage, iam, serviceusage, resourcemanager,
billing, logging, compute), as listed on https://cloud.google.com/iam/docs/roles-permissions/<service> and in
``gcloud iam roles describe`` output. A pattern ending in ``*`` covers a whole family (``run.*`` is what
roles/run.admin lists). The basic roles are built from rules (https://cloud.google.com/iam/docs/roles-overview#basic):
Owner holds every permission; Editor every one except changing IAM policies, deleting the project, managing its
billing link and billing accounts; Viewer the ``get``/``list``/``getIamPolicy`` ones. Cloud Storage's "convenience
values" (projectViewer/Editor/Owner on every bucket) are folded in: basic roles reach object data.

**The IAM v1 surface** (https://cloud.google.com/iam/docs/reference/rest; paths as gcloud's generated iam_v1
client calls them): ``/v1/projects/{p}/serviceAccounts`` (create, list), ``.../serviceAccounts/{email|uniqueId}``
(get, patch, delete; ``projects/-`` too), ``...:getIamPolicy|setIamPolicy|testIamPermissions`` (POST), and
Workload Identity Federation: ``/v1/projects/{p}/locations/global/workloadIdentityPools`` (create with
``?workloadIdentityPoolId=``, list with ``showDeleted``), ``.../{pool}`` (get, patch, delete, ``:undelete``),
``.../{pool}/providers`` and ``.../providers/{provider}`` likewise, and their operations
``.../operations/{id}``. Deleted pools and providers stay for 30 days in state DELETED; their ids stay taken
(create answers 409) until then, and ``:undelete`` restores them. Bodies are checked field by field against the
IAM v1 discovery schema (as generated into gcloud's googlecloudsdk/generated_clients/apis/iam/v1/iam_v1_messages.py),
since no installed client library carries IAM v1 types.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from deployer_emulator import world
from deployer_emulator.core import Emulator, Request, paginate
from deployer_emulator.errors import ApiError, already_exists, error_info, invalid_argument, not_found

POOLS = "iam.workloadIdentityPools"  # pool name (projects/NUMBER/...) -> WorkloadIdentityPool
PROVIDERS = "iam.workloadIdentityPoolProviders"  # provider name -> WorkloadIdentityPoolProvider

POOL_OPERATION_METADATA = "type.googleapis.com/google.iam.admin.v1.WorkloadIdentityPoolOperationMetadata"

# Resource Manager, Cloud Run and IAM answer a stale policy etag with 409 ABORTED in these words.
CONCURRENT_POLICY_CHANGE = (
    "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
)
MEMBER_RE = re.compile(
    r"allUsers|allAuthenticatedUsers|(?:deleted:)?(?:user|serviceAccount|group):[^@\s]+@[^@\s]+(?:\?uid=\d+)?"
    r"|domain:[a-z0-9.-]+\.[a-z]{2,}|principal(?:Set)?://\S+"
)
_WIF_MEMBER_RE = re.compile(
    r"principal(?:Set)?://iam\.googleapis\.com/(?P<pool>projects/(?P<project>[^/]+)/locations/global/"
    r"workloadIdentityPools/(?P<id>[^/]+))/(?P<rest>.+)"
)


# -- roles ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Role:
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def grants(self, permission: str) -> bool:
        return any(fnmatch.fnmatchcase(permission, p) for p in self.include) and not any(
            fnmatch.fnmatchcase(permission, p) for p in self.exclude
        )


_PROJECT_READ = ("resourcemanager.projects.get", "resourcemanager.projects.list")
_RUN_READ = (
    "run.configurations.get",
    "run.configurations.list",
    "run.executions.get",
    "run.executions.list",
    "run.jobs.get",
    "run.jobs.getIamPolicy",
    "run.jobs.list",
    "run.locations.list",
    "run.operations.get",
    "run.operations.list",
    "run.revisions.get",
    "run.revisions.list",
    "run.routes.get",
    "run.routes.list",
    "run.services.get",
    "run.services.getIamPolicy",
    "run.services.list",
    "run.tasks.get",
    "run.tasks.list",
)
_AR_READ = (
    "artifactregistry.dockerimages.get",
    "artifactregistry.dockerimages.list",
    "artifactregistry.files.get",
    "artifactregistry.files.list",
    "artifactregistry.locations.get",
    "artifactregistry.locations.list",
    "artifactregistry.packages.get",
    "artifactregistry.packages.list",
    "artifactregistry.repositories.downloadArtifacts",
    "artifactregistry.repositories.get",
    "artifactregistry.repositories.list",
    "artifactregistry.tags.get",
    "artifactregistry.tags.list",
    "artifactregistry.versions.get",
    "artifactregistry.versions.list",
)
_AR_WRITE = (
    "artifactregistry.repositories.uploadArtifacts",
    "artifactregistry.tags.create",
    "artifactregistry.tags.update",
)
_AR_DELETE = (
    "artifactregistry.packages.delete",
    "artifactregistry.repositories.deleteArtifacts",
    "artifactregistry.tags.delete",
    "artifactregistry.versions.delete",
)
_COMPUTE_COMMON_READ = (
    "compute.acceleratorTypes.*",
    "compute.diskTypes.*",
    "compute.globalOperations.get",
    "compute.globalOperations.list",
    "compute.machineTypes.*",
    "compute.projects.get",
    "compute.regionOperations.get",
    "compute.regionOperations.list",
    "compute.regions.*",
    "compute.zoneOperations.get",
    "compute.zoneOperations.list",
    "compute.zones.*",
)

# Each role's permissions in the families that matter here; the source page is
# https://cloud.google.com/iam/docs/roles-permissions/<the role's service>.
ROLES: dict[str, Role] = {
    # Basic roles (https://cloud.google.com/iam/docs/roles-overview#basic).
    "roles/owner": Role(("*",)),
    "roles/editor": Role(
        ("*",),
        (
            "*.setIamPolicy",
            "billing.*",
            "iam.roles.create",
            "iam.roles.delete",
            "iam.roles.update",
            "iam.serviceAccounts.getAccessToken",
            "iam.serviceAccounts.getOpenIdToken",
            "iam.serviceAccounts.implicitDelegation",
            "iam.serviceAccounts.signBlob",
            "iam.serviceAccounts.signJwt",
            "resourcemanager.projects.createBillingAssignment",
            "resourcemanager.projects.delete",
            "resourcemanager.projects.deleteBillingAssignment",
            "resourcemanager.projects.move",
            "resourcemanager.projects.undelete",
        ),
    ),
    "roles/viewer": Role(("*.get", "*.list", "*.getIamPolicy", "storage.objects.get"), ("billing.*",)),
    "roles/browser": Role(
        (
            "resourcemanager.folders.get",
            "resourcemanager.folders.list",
            "resourcemanager.organizations.get",
            "resourcemanager.projects.get",
            "resourcemanager.projects.getIamPolicy",
            "resourcemanager.projects.list",
        )
    ),
    # Cloud Run (roles-permissions/run): admin is run.*; developer everything but setIamPolicy.
    "roles/run.admin": Role(("run.*", *_PROJECT_READ)),
    "roles/run.developer": Role(
        (
            *_RUN_READ,
            *_PROJECT_READ,
            "run.executions.delete",
            "run.jobs.create",
            "run.jobs.delete",
            "run.jobs.run",
            "run.jobs.runWithOverrides",
            "run.jobs.update",
            "run.operations.delete",
            "run.revisions.delete",
            "run.routes.invoke",
            "run.services.create",
            "run.services.delete",
            "run.services.update",
        )
    ),
    "roles/run.invoker": Role(("run.jobs.run", "run.routes.invoke")),
    "roles/run.viewer": Role((*_RUN_READ, *_PROJECT_READ)),
    # Cloud Build (roles-permissions/cloudbuild).
    "roles/cloudbuild.builds.editor": Role(
        (
            "cloudbuild.builds.create",
            "cloudbuild.builds.get",
            "cloudbuild.builds.list",
            "cloudbuild.builds.update",
            "cloudbuild.locations.*",
            "cloudbuild.operations.*",
            "remotebuildexecution.blobs.get",
            *_PROJECT_READ,
        )
    ),
    "roles/cloudbuild.builds.viewer": Role(
        (
            "cloudbuild.builds.get",
            "cloudbuild.builds.list",
            "cloudbuild.locations.*",
            "cloudbuild.operations.*",
            "remotebuildexecution.blobs.get",
            *_PROJECT_READ,
        )
    ),
    # "Cloud Build Service Account": what the legacy build account held.
    "roles/cloudbuild.builds.builder": Role(
        (
            *_AR_READ,
            *_AR_WRITE,
            "cloudbuild.builds.create",
            "cloudbuild.builds.get",
            "cloudbuild.builds.list",
            "cloudbuild.builds.update",
            "cloudbuild.workerpools.use",
            "logging.logEntries.create",
            "pubsub.topics.create",
            "pubsub.topics.publish",
            "remotebuildexecution.blobs.get",
            *_PROJECT_READ,
            "source.repos.get",
            "source.repos.list",
            "storage.buckets.create",
            "storage.buckets.get",
            "storage.buckets.list",
            "storage.objects.create",
            "storage.objects.delete",
            "storage.objects.get",
            "storage.objects.list",
            "storage.objects.update",
        )
    ),
    # Artifact Registry (roles-permissions/artifactregistry).
    "roles/artifactregistry.reader": Role(_AR_READ),
    "roles/artifactregistry.writer": Role((*_AR_READ, *_AR_WRITE)),
    "roles/artifactregistry.repoAdmin": Role((*_AR_READ, *_AR_WRITE, *_AR_DELETE)),
    "roles/artifactregistry.admin": Role(("artifactregistry.*",)),
    # Cloud Storage (roles-permissions/storage).
    "roles/storage.admin": Role(("storage.*", *_PROJECT_READ)),
    "roles/storage.objectAdmin": Role(("storage.objects.*", "storage.managedFolders.*", *_PROJECT_READ)),
    "roles/storage.objectCreator": Role(("storage.objects.create", *_PROJECT_READ)),
    "roles/storage.objectViewer": Role(("storage.objects.get", "storage.objects.list", *_PROJECT_READ)),
    "roles/storage.objectUser": Role(
        (
            "storage.objects.create",
            "storage.objects.delete",
            "storage.objects.get",
            "storage.objects.list",
            "storage.objects.update",
            *_PROJECT_READ,
        )
    ),
    # IAM (roles-permissions/iam). Workload Identity Federation permissions carry the service name.
    "roles/iam.serviceAccountUser": Role(
        ("iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list", *_PROJECT_READ)
    ),
    "roles/iam.serviceAccountAdmin": Role(
        (
            "iam.serviceAccounts.create",
            "iam.serviceAccounts.delete",
            "iam.serviceAccounts.disable",
            "iam.serviceAccounts.enable",
            "iam.serviceAccounts.get",
            "iam.serviceAccounts.getIamPolicy",
            "iam.serviceAccounts.list",
            "iam.serviceAccounts.setIamPolicy",
            "iam.serviceAccounts.undelete",
            "iam.serviceAccounts.update",
            *_PROJECT_READ,
        )
    ),
    "roles/iam.serviceAccountTokenCreator": Role(
        (
            "iam.serviceAccounts.get",
            "iam.serviceAccounts.getAccessToken",
            "iam.serviceAccounts.getOpenIdToken",
            "iam.serviceAccounts.implicitDelegation",
            "iam.serviceAccounts.list",
            "iam.serviceAccounts.signBlob",
            "iam.serviceAccounts.signJwt",
            *_PROJECT_READ,
        )
    ),
    "roles/iam.workloadIdentityUser": Role(
        (
            "iam.serviceAccounts.get",
            "iam.serviceAccounts.getAccessToken",
            "iam.serviceAccounts.getOpenIdToken",
            "iam.serviceAccounts.list",
        )
    ),
    "roles/iam.workloadIdentityPoolAdmin": Role(
        (
            "iam.googleapis.com/workloadIdentityPoolProviders.*",
            "iam.googleapis.com/workloadIdentityPools.*",
            *_PROJECT_READ,
        )
    ),
    "roles/iam.workloadIdentityPoolViewer": Role(
        (
            "iam.googleapis.com/workloadIdentityPoolProviders.get",
            "iam.googleapis.com/workloadIdentityPoolProviders.list",
            "iam.googleapis.com/workloadIdentityPools.get",
            "iam.googleapis.com/workloadIdentityPools.list",
            *_PROJECT_READ,
        )
    ),
    # Service Usage (roles-permissions/serviceusage).
    "roles/serviceusage.serviceUsageAdmin": Role(
        ("monitoring.timeSeries.list", "serviceusage.operations.*", "serviceusage.quotas.*", "serviceusage.services.*")
    ),
    "roles/serviceusage.serviceUsageConsumer": Role(
        (
            "monitoring.timeSeries.list",
            "serviceusage.operations.get",
            "serviceusage.operations.list",
            "serviceusage.quotas.get",
            "serviceusage.services.get",
            "serviceusage.services.list",
            "serviceusage.services.use",
        )
    ),
    "roles/serviceusage.serviceUsageViewer": Role(
        (
            "monitoring.timeSeries.list",
            "serviceusage.operations.get",
            "serviceusage.operations.list",
            "serviceusage.quotas.get",
            "serviceusage.services.get",
            "serviceusage.services.list",
        )
    ),
    # Resource Manager (roles-permissions/resourcemanager).
    "roles/resourcemanager.projectIamAdmin": Role(
        ("resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy")
    ),
    "roles/resourcemanager.projectCreator": Role(
        ("resourcemanager.organizations.get", "resourcemanager.projects.create")
    ),
    "roles/resourcemanager.organizationAdmin": Role(
        (
            "resourcemanager.folders.*",
            "resourcemanager.organizations.*",
            "resourcemanager.projects.get",
            "resourcemanager.projects.getIamPolicy",
            "resourcemanager.projects.list",
            "resourcemanager.projects.setIamPolicy",
        )
    ),
    # Cloud Billing (roles-permissions/billing): account roles; projectManager links projects to accounts.
    "roles/billing.admin": Role(
        (
            "billing.*",
            "resourcemanager.projects.createBillingAssignment",
            "resourcemanager.projects.deleteBillingAssignment",
        )
    ),
    "roles/billing.user": Role(
        (
            "billing.accounts.get",
            "billing.accounts.getIamPolicy",
            "billing.accounts.list",
            "billing.accounts.redeemPromotion",
            "billing.credits.list",
            "billing.resourceAssociations.create",
        )
    ),
    "roles/billing.viewer": Role(
        (
            "billing.accounts.get",
            "billing.accounts.getIamPolicy",
            "billing.accounts.getPaymentInfo",
            "billing.accounts.getPricing",
            "billing.accounts.getSpendingInformation",
            "billing.accounts.getUsageExportSpec",
            "billing.accounts.list",
            "billing.budgets.get",
            "billing.budgets.list",
            "billing.credits.list",
            "billing.resourceAssociations.list",
            "billing.subscriptions.get",
            "billing.subscriptions.list",
        )
    ),
    "roles/billing.costsManager": Role(
        (
            "billing.accounts.get",
            "billing.accounts.getIamPolicy",
            "billing.accounts.getSpendingInformation",
            "billing.accounts.list",
            "billing.budgets.*",
            "billing.resourcebudgets.*",
        )
    ),
    "roles/billing.projectManager": Role(
        (
            "billing.resourcebudgets.read",
            "billing.resourcebudgets.write",
            "resourcemanager.projects.createBillingAssignment",
            "resourcemanager.projects.deleteBillingAssignment",
        )
    ),
    # Logging (roles-permissions/logging).
    "roles/logging.logWriter": Role(("logging.logEntries.create", "logging.logEntries.route")),
    "roles/logging.viewer": Role(("logging.logEntries.list", "logging.logs.list", "logging.views.*", *_PROJECT_READ)),
    # Compute Engine (roles-permissions/compute). Firewall rules belong to securityAdmin, not networkAdmin.
    "roles/compute.admin": Role(("compute.*", *_PROJECT_READ)),
    "roles/compute.viewer": Role(("compute.*.get", "compute.*.list", "compute.*.aggregatedList", *_PROJECT_READ)),
    "roles/compute.instanceAdmin.v1": Role(
        (
            *_COMPUTE_COMMON_READ,
            "compute.addresses.get",
            "compute.addresses.list",
            "compute.addresses.use",
            "compute.disks.*",
            "compute.firewalls.get",
            "compute.firewalls.list",
            "compute.images.get",
            "compute.images.getFromFamily",
            "compute.images.list",
            "compute.images.useReadOnly",
            "compute.instanceGroups.*",
            "compute.instanceTemplates.*",
            "compute.instances.*",
            "compute.networks.get",
            "compute.networks.list",
            "compute.networks.use",
            "compute.networks.useExternalIp",
            "compute.reservations.get",
            "compute.reservations.list",
            "compute.snapshots.*",
            "compute.subnetworks.get",
            "compute.subnetworks.list",
            "compute.subnetworks.use",
            "compute.subnetworks.useExternalIp",
            *_PROJECT_READ,
        )
    ),
    "roles/compute.networkAdmin": Role(
        (
            *_COMPUTE_COMMON_READ,
            "compute.addresses.*",
            "compute.firewalls.get",
            "compute.firewalls.list",
            "compute.globalAddresses.*",
            "compute.instances.get",
            "compute.instances.list",
            "compute.networks.*",
            "compute.routers.*",
            "compute.routes.*",
            "compute.subnetworks.*",
            *_PROJECT_READ,
        )
    ),
    "roles/compute.securityAdmin": Role(
        (
            *_COMPUTE_COMMON_READ,
            "compute.firewalls.*",
            "compute.networks.get",
            "compute.networks.list",
            "compute.networks.updatePolicy",
            "compute.securityPolicies.*",
            "compute.sslCertificates.*",
            *_PROJECT_READ,
        )
    ),
}


def role_grants(role: str, permission: str) -> bool:
    known = ROLES.get(role)
    return known is not None and known.grants(permission)


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


def _policy_grants(policy: dict[str, Any], members: set[str], permission: str) -> bool:
    for binding in policy.get("bindings", []):
        if not role_grants(str(binding.get("role", "")), permission):
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
        re.compile(r"^/v1/projects/[^/]+/(?:serviceAccounts|locations/global/workloadIdentityPools)"),
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


# -- Google's errors ---------------------------------------------------------------------------------------------
class LegacyApiError(ApiError):
    """The older JSON error shape (Compute Engine, Cloud Storage): ``errors[]`` with a ``reason``, and for the
    ``accessNotConfigured`` case also ``status`` and ``details``."""

    def __init__(
        self,
        http_status: int,
        status: str,
        message: str,
        *,
        reason: str,
        domain: str = "global",
        details: list[dict[str, Any]] | None = None,
        with_status: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, details=details, http_status=http_status)
        self.entry = {"message": message, "domain": domain, "reason": reason, **(extra or {})}
        self.with_status = with_status

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.http_status, "message": self.message, "errors": [self.entry]}
        if self.with_status:
            body["status"] = self.status
        if self.details:
            body["details"] = self.details
        return {"error": body}


def _email(caller: str) -> str:
    return caller.split(":", 1)[1] if ":" in caller else caller


def service_disabled(emulator: Emulator, api: str, project_id: str) -> ApiError:
    """Google's 403 for an API that is not enabled (or not yet propagated) on the consumer project."""
    number = emulator.project_number(project_id)
    title = world.KNOWN_SERVICES.get(api, (api, False))[0]
    url = f"https://console.developers.google.com/apis/api/{api}/overview?project={number}"
    message = (
        f"{title} has not been used in project {number} before or it is disabled. Enable it by visiting {url} then "
        "retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and "
        "retry."
    )
    details = [
        error_info(
            "SERVICE_DISABLED",
            "googleapis.com",
            service=api,
            consumer=f"projects/{number}",
            activationUrl=url,
            serviceTitle=title,
            containerInfo=number,
        ),
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message},
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Google developers console API activation", "url": url}],
        },
    ]
    if api in ("compute.googleapis.com", "storage.googleapis.com"):
        return LegacyApiError(
            403,
            "PERMISSION_DENIED",
            message,
            reason="accessNotConfigured",
            domain="usageLimits",
            details=details,
            with_status=True,
            extra={"extendedHelp": "https://console.developers.google.com"},
        )
    return ApiError("PERMISSION_DENIED", message, details=details)


def _unauthenticated(api: str, permission: str, resource: str) -> ApiError:
    if api == "storage.googleapis.com":
        from deployer_emulator.storage import StorageError

        what = _storage_noun(permission, resource)
        return StorageError(
            401,
            "required",
            f"Anonymous caller does not have {permission} access to the Google Cloud Storage {what}. "
            f"Permission '{permission}' denied on resource (or it may not exist).",
        )
    # The front end's answer to a request without credentials.
    message = (
        "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
    )
    return ApiError("UNAUTHENTICATED", message, details=[error_info("CREDENTIALS_MISSING", service=api)])


def _storage_noun(permission: str, resource: str) -> str:
    if "/objects/" in resource:
        return "object"
    if "/buckets/" in resource:
        return "bucket"
    return "project"


def _iam_denied(message: str, permission: str) -> ApiError:
    return ApiError(
        "PERMISSION_DENIED",
        message,
        details=[error_info("IAM_PERMISSION_DENIED", "iam.googleapis.com", permission=permission)],
    )


def denied(req: Request, api: str, permission: str, resource: str, target: Target) -> ApiError:
    """The 403 each API answers, in its own words (sources next to each)."""
    if req.caller == "anonymous":
        return _unauthenticated(api, permission, resource)
    if permission == "iam.serviceAccounts.actAs":
        email = target.service_account["email"] if target.service_account else resource.rsplit("/", 1)[-1]
        if api == "run.googleapis.com":
            # "Permission 'iam.serviceaccounts.actAs' denied on service account 233694408259-compute@developer.
            # gserviceaccount.com (or it may not exist)." (GoogleCloudPlatform/cloud-run-release-manager#81)
            return _iam_denied(
                f"Permission 'iam.serviceaccounts.actAs' denied on service account {email} (or it may not exist).",
                permission,
            )
        if api == "cloudbuild.googleapis.com":
            # "caller does not have permission to act as service account 109095503163182759798": Cloud Build names
            # the account by its unique id (kohei321dev/spot-diggz#164).
            who = target.service_account["uniqueId"] if target.service_account else resource
            return _iam_denied(f"caller does not have permission to act as service account {who}", permission)
        if api == "compute.googleapis.com":
            # Compute Engine's words when a VM is given an account the caller may not use.
            message = (
                f"The user does not have access to service account '{email}'.  User: '{_email(req.caller)}'.  Ask a "
                "project owner to grant you the iam.serviceAccountUser role on the service account"
            )
            return LegacyApiError(400, "INVALID_ARGUMENT", message, reason="serviceAccountPermissionDenied")
    if api == "storage.googleapis.com":
        from deployer_emulator.storage import StorageError

        # "x does not have storage.objects.create access to the Google Cloud Storage object. Permission
        # 'storage.objects.create' denied on resource (or it may not exist)." (JSON API 403)
        what = _storage_noun(permission, resource)
        return StorageError(
            403,
            "forbidden",
            f"{_email(req.caller)} does not have {permission} access to the Google Cloud Storage {what}. "
            f"Permission '{permission}' denied on resource (or it may not exist).",
        )
    if api == "compute.googleapis.com":
        # "Required 'compute.projects.get' permission for 'projects/axemnimbus'" (cloudyr/googleComputeEngineR#146)
        return LegacyApiError(
            403, "PERMISSION_DENIED", f"Required '{permission}' permission for '{resource}'", reason="forbidden"
        )
    if api in ("cloudbuild.googleapis.com", "cloudbilling.googleapis.com", "billingbudgets.googleapis.com"):
        # "PERMISSION_DENIED: The caller does not have permission" (gcloud builds submit, gcloud billing ...).
        return _iam_denied("The caller does not have permission", permission)
    if api == "serviceusage.googleapis.com":
        # "Permission denied to list services for consumer container [projects/NUMBER]" (aquasecurity/cloudsploit
        # #1606); enable/disable/get name the service the same way.
        service = resource.rsplit("/services/", 1)[1] if "/services/" in resource else ""
        number = target.project["name"].split("/", 1)[1] if target.project else resource.split("/")[1]
        verb = {
            "serviceusage.services.enable": "enable",
            "serviceusage.services.disable": "disable",
            "serviceusage.services.get": "get",
        }.get(permission)
        message = (
            f"Permission denied to {verb} service [{service}]"
            if verb and service
            else f"Permission denied to list services for consumer container [projects/{number}]"
        )
        return ApiError(
            "PERMISSION_DENIED",
            message,
            details=[error_info("AUTH_PERMISSION_DENIED", "serviceusage.googleapis.com", permission=permission)],
        )
    if api == "iam.googleapis.com":
        # IAM leaves the resource out: "Permission 'iam.serviceAccounts.create' denied on resource (or it may not
        # exist)."
        return _iam_denied(f"Permission '{permission}' denied on resource (or it may not exist).", permission)
    if api == "cloudresourcemanager.googleapis.com":
        # "Permission 'resourcemanager.projects.get' denied on resource '//cloudresourcemanager.googleapis.com/
        # projects/123456789' (or it may not exist)." (CrowdStrike/falcon-integration-gateway#98)
        return _iam_denied(
            f"Permission '{permission}' denied on resource '//cloudresourcemanager.googleapis.com/{resource}' "
            "(or it may not exist).",
            permission,
        )
    if api == "artifactregistry.googleapis.com":
        # Unconfirmed wording: Artifact Registry follows the full-resource-name pattern of Resource Manager.
        return _iam_denied(
            f"Permission '{permission}' denied on resource '//artifactregistry.googleapis.com/{resource}' "
            "(or it may not exist).",
            permission,
        )
    # Cloud Run and the rest: "Permission 'run.services.get' denied on resource 'namespaces/.../services/...' (or
    # resource may not exist)." in v1; v2 names the v2 resource (google-github-actions/deploy-cloudrun#427).
    return _iam_denied(f"Permission '{permission}' denied on resource '{resource}' (or it may not exist).", permission)


# -- the enforcer ------------------------------------------------------------------------------------------------
class Enforcer:
    """``emulator.enforcer`` in the strict world; see the module docstring for the rules."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def __call__(self, req: Request, permission: str, resource: str) -> None:
        target = resolve(self.emulator, resource, permission)
        if not target.placed:
            return
        api = api_of(req, permission)
        if permission != "iam.serviceAccounts.actAs" or api == "iam.googleapis.com":
            # actAs is checked inside another API's call (a deploy naming a runtime account), whose own
            # authorization already checked that API on the calling project.
            self._check_enabled(req, api, target)
        if not self.holds(req.caller, permission, target):
            raise denied(req, api, permission, resource, target)

    def _check_enabled(self, req: Request, api: str, target: Target) -> None:
        consumer: str | None = None
        if api in _RESOURCE_BASED:
            consumer = target.project_id if target.project and target.project.get("state") == "ACTIVE" else None
        elif api in _CLIENT_BASED:
            quota_project = req.headers.get("x-goog-user-project", "")
            if quota_project:
                consumer = world.project_id_of(self.emulator, quota_project)
            elif req.caller.startswith("serviceAccount:"):
                consumer = world.service_account_project(self.emulator, _email(req.caller))
        if consumer is None:
            return
        if world.service_readiness(self.emulator, consumer, api) != "ENABLED":
            raise service_disabled(self.emulator, api, consumer)

    def holds(self, caller: str, permission: str, target: Target) -> bool:
        members = _caller_members(caller)
        return any(_policy_grants(policy, members, permission) for policy in target.policies)


def install(emulator: Emulator) -> None:
    """Enforce IAM and API enablement (the strict world)."""
    emulator.enforcer = Enforcer(emulator)


def permissions_held(emulator: Emulator, req: Request, permissions: list[str], resource: str) -> list[str]:
    """What ``testIamPermissions`` answers: the subset of ``permissions`` the caller holds on ``resource`` (all of
    them in the open world, where the caller owns everything)."""
    for permission in permissions:
        if "*" in permission:
            # IAM rejects wildcards in permission checks.
            raise invalid_argument(f"Permissions ('{permission}') with wildcards (*) are not allowed.")
    enforcer = emulator.enforcer
    if not isinstance(enforcer, Enforcer):
        return list(permissions)
    return [p for p in permissions if enforcer.holds(req.caller, p, resolve(emulator, resource, p))]


def as_caller(member: str, path: str = "") -> Request:
    """A request made by the emulator on behalf of ``member`` (a build pushing as its service account)."""
    return Request("POST", path, {}, {}, b"", member)


# -- IAM policies ------------------------------------------------------------------------------------------------
def parse_set_policy(req: Request) -> tuple[list[dict[str, Any]], str, str]:
    """A SetIamPolicyRequest body, strictly: (bindings, the etag as sent in base64 or "", update_mask)."""
    from google.iam.v1 import iam_policy_pb2
    from google.protobuf import json_format

    request = iam_policy_pb2.SetIamPolicyRequest()
    try:
        json_format.Parse(req.body.decode() or "{}", request, ignore_unknown_fields=False)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        text = f"Invalid JSON payload received. {exc}"
        raise invalid_argument(text, field="policy", description=text) from exc
    if not request.HasField("policy"):
        raise invalid_argument("policy is required.", field="policy")
    policy = json_format.MessageToDict(request.policy)
    etag = base64.b64encode(request.policy.etag).decode() if request.policy.etag else ""
    return policy.get("bindings", []), etag, json_format.MessageToDict(request).get("updateMask", "")


def requested_policy_version(req: Request) -> int:
    """``options.requestedPolicyVersion`` from the body (POST getIamPolicy) or the query (GET forms)."""
    from google.iam.v1 import iam_policy_pb2
    from google.protobuf import json_format

    raw = req.param("options.requestedPolicyVersion") or req.param("options_requestedPolicyVersion")
    if raw is None and req.method == "POST":
        request = iam_policy_pb2.GetIamPolicyRequest()
        try:
            json_format.Parse(req.body.decode() or "{}", request, ignore_unknown_fields=False)
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            text = f"Invalid JSON payload received. {exc}"
            raise invalid_argument(text, field="options", description=text) from exc
        raw = str(request.options.requested_policy_version)
    version = (raw or "0").strip()
    if version not in ("0", "1", "3"):
        raise invalid_argument(f"Invalid requested policy version: {version}. Valid values are 0, 1 and 3.")
    return int(version)


def parse_test_permissions(req: Request) -> list[str]:
    from google.iam.v1 import iam_policy_pb2
    from google.protobuf import json_format

    request = iam_policy_pb2.TestIamPermissionsRequest()
    try:
        json_format.Parse(req.body.decode() or "{}", request, ignore_unknown_fields=False)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        text = f"Invalid JSON payload received. {exc}"
        raise invalid_argument(text, field="permissions", description=text) from exc
    return list(request.permissions)


def normalize_bindings(emulator: Emulator, bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """IAM keeps one binding per role and condition, without duplicate members, and drops empty bindings. Members
    must be well formed, service accounts must exist, and a Workload Identity principal must name an existing pool
    by project number, as Google checks them at setIamPolicy."""
    merged: dict[str, dict[str, Any]] = {}
    for index, binding in enumerate(bindings):
        role = str(binding.get("role", ""))
        if not role:
            raise invalid_argument(f"Policy binding {index} has no role.", field=f"policy.bindings[{index}].role")
        if not role.startswith(("roles/", "projects/", "organizations/")):
            raise invalid_argument(f"Role {role} does not exist in the resource's hierarchy.")
        for member in binding.get("members", []):
            _check_member(emulator, member)
        key = json.dumps([role, binding.get("condition")], sort_keys=True)
        entry = merged.setdefault(key, {"role": role, "members": []})
        if "condition" in binding:
            entry["condition"] = binding["condition"]
        for member in binding.get("members", []):
            if member not in entry["members"]:
                entry["members"].append(member)
    return [b for b in merged.values() if b["members"]]


def _check_member(emulator: Emulator, member: str) -> None:
    if not MEMBER_RE.fullmatch(member):
        # Unconfirmed wording.
        raise invalid_argument(
            f"Invalid member: '{member}'. A member is allUsers, allAuthenticatedUsers or a prefixed identity "
            "(user:, serviceAccount:, group:, domain:, principal:, principalSet:)."
        )
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
    normalized = normalize_bindings(emulator, bindings)
    with emulator.mutation():
        current = emulator.state.table(table).get(key) or world.empty_policy()
        if given_etag and given_etag != current.get("etag"):
            raise ApiError("ABORTED", CONCURRENT_POLICY_CHANGE)
        new: dict[str, Any] = {
            "version": 3 if any("condition" in b for b in normalized) else 1,
            "etag": world.new_policy_etag(),
        }
        if normalized:
            new["bindings"] = normalized
        emulator.state.table(table)[key] = new
        return world.copy_doc(new)  # type: ignore[no-any-return]


def policy_for_version(policy: dict[str, Any], requested: int) -> dict[str, Any]:
    """A policy with conditional bindings is only shown to a caller that asks for version 3."""
    if any("condition" in b for b in policy.get("bindings", [])) and requested < 3:
        # https://cloud.google.com/iam/docs/policies#versions: such requests are rejected.
        raise invalid_argument(
            "The policy contains conditional role bindings: request policy version 3 "
            "(options.requestedPolicyVersion) to read it."
        )
    return policy


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
_POOL_FIELDS: dict[str, Any] = {
    "description": str,
    "disabled": bool,
    "displayName": str,
    "expireTime": str,
    "inlineCertificateIssuanceConfig": dict,
    "inlineTrustConfig": dict,
    "mode": str,
    "name": str,
    "sessionDuration": str,
    "state": str,
}
_PROVIDER_FIELDS: dict[str, Any] = {
    "attributeCondition": str,
    "attributeMapping": dict,
    "aws": {"accountId": str},
    "description": str,
    "disabled": bool,
    "displayName": str,
    "expireTime": str,
    "name": str,
    "oidc": {"allowedAudiences": list, "issuerUri": str, "jwksJson": str},
    "saml": {"idpMetadataXml": str},
    "state": str,
    "x509": dict,
}
_POOL_OUTPUT_ONLY = ("name", "state", "expireTime")
# Issuers shared by many tenants: Google requires an attribute condition that restricts the provider to yours
# (https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines#conditions).
_SHARED_ISSUERS = ("https://token.actions.githubusercontent.com", "https://gitlab.com", "https://app.terraform.io")
_CONDITION_REQUIRED = (
    "The attribute condition must reference one of the provider's claims. For more information, see "
    "https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines#conditions"
)
# workloadIdentityPoolId / workloadIdentityPoolProviderId: "4-32 characters, and may contain the characters
# [a-z0-9-]. The prefix `gcp-` is reserved for use by Google, and may not be specified." (iam_v1 discovery).
_WIF_ID_RE = re.compile(r"^[a-z0-9-]{4,32}$")
_ATTRIBUTE_KEY_RE = re.compile(r"^(?:google\.subject|google\.groups|attribute\.[a-z0-9_]{1,100})$")


def _check_fields(doc: Any, spec: dict[str, Any], where: str) -> None:
    if not isinstance(doc, dict):
        raise invalid_argument(f"Invalid JSON payload received. Expected an object at '{where}'.")
    for name, value in doc.items():
        expected = spec.get(name)
        if expected is None:
            at = f" at '{where}'" if where else ""
            raise invalid_argument(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')
        if isinstance(expected, dict):
            # Google names the place by the proto field path: serviceAccount -> service_account.
            snake = re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), name)
            _check_fields(value, expected, f"{where}.{snake}" if where else snake)
        elif not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise invalid_argument(
                f"Invalid value at '{where + '.' if where else ''}{name}' ({expected.__name__}), {json.dumps(value)}"
            )


def _json_body(req: Request) -> dict[str, Any]:
    return req.json()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _in_30_days() -> str:
    return (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- IAM v1 surface ----------------------------------------------------------------------------------------------
class Iam:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # -- service accounts --
    def _project(self, req: Request, ref: str) -> dict[str, Any]:
        project = world.find_project(self.emulator, ref)
        if project is None:
            # Reached only when the caller holds the permission: a project that does not exist has no policy.
            raise not_found(f"Project {ref} not found.")
        return project

    def create_service_account(self, req: Request, project: str) -> dict[str, Any]:
        body = _json_body(req)
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
                (world.copy_doc(d) for d in self.emulator.state.table(world.SERVICE_ACCOUNTS).values()),
                key=lambda d: d["email"],
            )
        mine = [a for a in accounts if a["projectId"] == project_id]
        # ListServiceAccountsRequest.pageSize: "The default is 20, and the maximum is 100."
        return paginate(mine, req, key="accounts", default=20, maximum=100)

    def patch_service_account(self, req: Request, project: str, account: str) -> dict[str, Any]:
        body = _json_body(req)
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
            return world.copy_doc(stored)  # type: ignore[no-any-return]

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

    # -- workload identity pools --
    def _parent(self, req: Request, project: str, location: str) -> str:
        if location != "global":
            # "The only supported location is `global`." (CreateWorkloadIdentityPoolRequest.parent)
            raise invalid_argument(f"Location {location} is not supported; the only supported location is global.")
        found = self._project(req, project)
        return f"projects/{world.project_number_of(found)}/locations/global"

    def _operation(self, resource_name: str) -> dict[str, Any]:
        """Pool and provider operations live under the resource and finish without a response: clients read the
        resource again (gcloud's command_lib/iam/identity_pool_waiter.py)."""
        name = f"{resource_name}/operations/{uuid.uuid4().hex[:20]}"
        operation: dict[str, Any] = {"name": name, "metadata": {"@type": POOL_OPERATION_METADATA}, "done": False}
        with self.emulator.mutation():
            self.emulator.state.table("operations")[name] = operation

        def finish() -> None:
            time.sleep(0.05)
            with self.emulator.mutation():
                self.emulator.state.table("operations")[name]["done"] = True

        self.emulator.spawn(finish, f"operation {name}")
        return world.copy_doc(operation)  # type: ignore[no-any-return]

    @staticmethod
    def _check_wif_id(value: str, param: str) -> None:
        if not _WIF_ID_RE.match(value) or value.startswith("gcp-"):
            # Unconfirmed wording; the rule is the id's in CreateWorkloadIdentityPool(Provider)Request.
            raise invalid_argument(
                f"Invalid {param} '{value}': it must be 4 to 32 characters of lowercase letters, digits and "
                "hyphens, and the prefix gcp- is reserved.",
                field=param,
            )

    @staticmethod
    def _check_display(doc: dict[str, Any]) -> None:
        if len(doc.get("displayName", "")) > 32:
            raise invalid_argument("display_name cannot exceed 32 characters.", field="display_name")
        if len(doc.get("description", "")) > 256:
            raise invalid_argument("description cannot exceed 256 characters.", field="description")

    def create_pool(self, req: Request, project: str, location: str) -> dict[str, Any]:
        body = _json_body(req)
        _check_fields(body, _POOL_FIELDS, "workload_identity_pool")
        pool_id = req.param("workloadIdentityPoolId") or ""
        self.emulator.authorize(
            req, "iam.googleapis.com/workloadIdentityPools.create", f"projects/{project}/locations/{location}"
        )
        self._check_wif_id(pool_id, "workload_identity_pool_id")
        self._check_display(body)
        name = f"{self._parent(req, project, location)}/workloadIdentityPools/{pool_id}"
        # Also refused for a deleted pool, whose id stays reserved for 30 days
        # (terraform-google-modules/terraform-google-github-actions-runners#49).
        return self._create_wif(POOLS, name, body)

    def _pool(
        self, req: Request, project: str, location: str, pool: str, permission: str
    ) -> tuple[str, dict[str, Any]]:
        self.emulator.authorize(
            req, permission, f"projects/{project}/locations/{location}/workloadIdentityPools/{pool}"
        )
        name = f"{self._parent(req, project, location)}/workloadIdentityPools/{pool}"
        with self.emulator.state.lock:
            doc = self.emulator.state.table(POOLS).get(name)
            if doc is None:
                raise not_found("Requested entity was not found.")
            return name, world.copy_doc(doc)

    def get_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        return self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.get")[1]

    def list_pools(self, req: Request, project: str, location: str) -> dict[str, Any]:
        self.emulator.authorize(
            req, "iam.googleapis.com/workloadIdentityPools.list", f"projects/{project}/locations/{location}"
        )
        prefix = f"{self._parent(req, project, location)}/workloadIdentityPools/"
        show_deleted = req.flag("showDeleted")
        with self.emulator.state.lock:
            docs = [
                world.copy_doc(d)
                for n, d in sorted(self.emulator.state.table(POOLS).items())
                if n.startswith(prefix) and (show_deleted or d.get("state") == "ACTIVE")
            ]
        return paginate(docs, req, key="workloadIdentityPools", default=50, maximum=1000)

    def patch_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        body = _json_body(req)
        _check_fields(body, _POOL_FIELDS, "workload_identity_pool")
        name, current = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.update")
        self._update(
            POOLS,
            name,
            current,
            body,
            req.param("updateMask") or "",
            ("displayName", "description", "disabled", "sessionDuration"),
        )
        return self._operation(name)

    def _update(
        self, table: str, name: str, current: dict[str, Any], body: dict[str, Any], mask: str, mutable: tuple[str, ...]
    ) -> None:
        fields = [f.strip() for f in mask.split(",") if f.strip()]
        if not fields:
            raise invalid_argument("update_mask is required.", field="update_mask")
        camel = [re.sub(r"_([a-z])", lambda m: m[1].upper(), f) for f in fields]
        for field_name in camel:
            if field_name not in mutable:
                raise invalid_argument(f"Invalid update_mask path: {field_name}", field="update_mask")
        if current.get("state") != "ACTIVE":
            raise ApiError("FAILED_PRECONDITION", f"{name} is deleted; undelete it before updating it.")
        with self.emulator.mutation():
            stored = self.emulator.state.table(table)[name]
            for field_name in camel:
                head = field_name.split(".", 1)[0]
                if head in body:
                    stored[head] = body[head]
                else:
                    stored.pop(head, None)

    def delete_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        name, current = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.delete")
        if current.get("state") == "DELETED":
            raise ApiError("FAILED_PRECONDITION", f"Workload identity pool {name} is already deleted.")  # unconfirmed
        with self.emulator.mutation():
            # Soft delete: kept (and its id reserved) for about 30 days (WorkloadIdentityPool.State.DELETED).
            self.emulator.state.table(POOLS)[name].update(state="DELETED", expireTime=_in_30_days())
        return self._operation(name)

    def undelete_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        _check_fields(_json_body(req), {}, "")
        name, current = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.undelete")
        if current.get("state") != "DELETED":
            raise ApiError("FAILED_PRECONDITION", f"Workload identity pool {name} is not deleted.")  # unconfirmed
        with self.emulator.mutation():
            stored = self.emulator.state.table(POOLS)[name]
            stored["state"] = "ACTIVE"
            stored.pop("expireTime", None)
        return self._operation(name)

    # -- providers --
    def create_provider(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        body = _json_body(req)
        _check_fields(body, _PROVIDER_FIELDS, "workload_identity_pool_provider")
        provider_id = req.param("workloadIdentityPoolProviderId") or ""
        pool_name, pool_doc = self._pool(
            req, project, location, pool, "iam.googleapis.com/workloadIdentityPoolProviders.create"
        )
        self._check_wif_id(provider_id, "workload_identity_pool_provider_id")
        self._check_display(body)
        if pool_doc.get("state") != "ACTIVE":
            raise ApiError("FAILED_PRECONDITION", f"The workload identity pool {pool_name} is deleted.")  # unconfirmed
        self._check_provider(body)
        return self._create_wif(PROVIDERS, f"{pool_name}/providers/{provider_id}", body)

    def _create_wif(self, table: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store a new pool or provider (ACTIVE); its name, even deleted, may not exist yet."""
        doc = {k: v for k, v in body.items() if k not in _POOL_OUTPUT_ONLY}
        doc.update(name=name, state="ACTIVE")
        doc.setdefault("disabled", False)
        with self.emulator.mutation():
            stored = self.emulator.state.table(table)
            if name in stored:
                raise already_exists("Requested entity already exists")
            stored[name] = doc
        return self._operation(name)

    @staticmethod
    def _check_provider(body: dict[str, Any]) -> None:
        kinds = [k for k in ("oidc", "aws", "saml", "x509") if k in body]
        if len(kinds) != 1:
            raise invalid_argument(
                "Exactly one of oidc, aws, saml or x509 must be set on a workload identity pool provider."
            )
        mapping = body.get("attributeMapping") or {}
        for key, value in mapping.items():
            if not _ATTRIBUTE_KEY_RE.match(key) or not isinstance(value, str) or not value:
                raise invalid_argument(
                    f"Invalid attribute mapping key '{key}': keys are google.subject, google.groups or "
                    "attribute.NAME (NAME of [a-z0-9_]), each mapped to a CEL expression.",
                    field="workload_identity_pool_provider.attribute_mapping",
                )
        condition = str(body.get("attributeCondition", ""))
        if "oidc" in body:
            issuer = str(body["oidc"].get("issuerUri", ""))
            if not issuer.startswith("https://"):
                # Oidc.issuerUri: "Required. The OIDC issuer URL. Must be an HTTPS endpoint."
                raise invalid_argument(
                    "The OIDC issuer URL must be an HTTPS endpoint.", field="workload_identity_pool_provider.oidc"
                )
            if "google.subject" not in mapping:
                # attributeMapping: "For OIDC providers, you must supply a custom mapping, which must include the
                # google.subject attribute."
                raise invalid_argument(
                    "The attribute mapping must include google.subject for OIDC providers.",
                    field="workload_identity_pool_provider.attribute_mapping",
                )
            references_claim = re.search(r"\b(assertion|attribute|google)\.", condition) is not None
            if issuer.rstrip("/") in _SHARED_ISSUERS and not references_claim:
                raise invalid_argument(_CONDITION_REQUIRED)
        if len(condition) > 4096:
            raise invalid_argument("The attribute condition cannot exceed 4096 characters.")

    def _provider(
        self, req: Request, project: str, location: str, pool: str, provider: str, permission: str
    ) -> tuple[str, dict[str, Any]]:
        self.emulator.authorize(
            req,
            permission,
            f"projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers/{provider}",
        )
        name = f"{self._parent(req, project, location)}/workloadIdentityPools/{pool}/providers/{provider}"
        with self.emulator.state.lock:
            doc = self.emulator.state.table(PROVIDERS).get(name)
            if doc is None:
                raise not_found("Requested entity was not found.")
            return name, world.copy_doc(doc)

    def get_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        return self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.get"
        )[1]

    def list_providers(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        pool_name, _ = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPoolProviders.list")
        show_deleted = req.flag("showDeleted")
        with self.emulator.state.lock:
            docs = [
                world.copy_doc(d)
                for n, d in sorted(self.emulator.state.table(PROVIDERS).items())
                if n.startswith(f"{pool_name}/providers/") and (show_deleted or d.get("state") == "ACTIVE")
            ]
        return paginate(docs, req, key="workloadIdentityPoolProviders", default=50, maximum=100)

    def patch_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        body = _json_body(req)
        _check_fields(body, _PROVIDER_FIELDS, "workload_identity_pool_provider")
        name, current = self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.update"
        )
        merged = {**current, **body}
        self._check_provider({k: v for k, v in merged.items() if k not in _POOL_OUTPUT_ONLY and k != "disabled"})
        self._update(
            PROVIDERS,
            name,
            current,
            body,
            req.param("updateMask") or "",
            ("displayName", "description", "disabled", "attributeMapping", "attributeCondition", "oidc", "aws", "saml"),
        )
        return self._operation(name)

    def delete_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        name, current = self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.delete"
        )
        if current.get("state") == "DELETED":
            raise ApiError("FAILED_PRECONDITION", f"Workload identity pool provider {name} is already deleted.")
        with self.emulator.mutation():
            self.emulator.state.table(PROVIDERS)[name].update(state="DELETED", expireTime=_in_30_days())
        return self._operation(name)

    def undelete_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        _check_fields(_json_body(req), {}, "")
        name, current = self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.undelete"
        )
        if current.get("state") != "DELETED":
            raise ApiError("FAILED_PRECONDITION", f"Workload identity pool provider {name} is not deleted.")
        with self.emulator.mutation():
            stored = self.emulator.state.table(PROVIDERS)[name]
            stored["state"] = "ACTIVE"
            stored.pop("expireTime", None)
        return self._operation(name)

    def get_operation(self, req: Request, project: str, location: str, rest: str) -> dict[str, Any]:
        parent = self._parent(req, project, location)
        return self.emulator.get_operation(f"{parent}/workloadIdentityPools/{rest}")


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
