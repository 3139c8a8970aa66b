"""The emulator's world: which projects, organizations, billing accounts, enabled APIs and service accounts exist.

Two worlds (the emulator's README.md):

- **open** (the default): any project a request names exists, ACTIVE, with billing on and every known API enabled;
  the first caller to name it is its owner, and nothing is enforced (``emulator.enforcer`` stays None).
- **strict** (``--world strict`` or ``--scenario FILE``): nothing exists unless a scenario seeds it or a request
  creates it, and every request is authorized by the enforcer in iam/enforcer.py.

This module is the data layer the Resource Manager, Cloud Billing, Service Usage and IAM surfaces share; it has no
HTTP routes. Documents are stored as the REST JSON the APIs answer with, in ``emulator.state`` tables:

- ``PROJECTS``: project id -> Resource Manager v3 Project (``name`` is ``projects/NUMBER``)
- ``PROJECT_POLICIES``: project id -> IAM Policy (``version``, ``etag``, ``bindings``)
- ``ORGANIZATIONS`` / ``FOLDERS``: ``organizations/N`` / ``folders/N`` -> ``{"resource": ..., "policy": ...}``
- ``BILLING_ACCOUNTS``: ``billingAccounts/X`` -> ``{"account": BillingAccount, "projectLimit": int|None,
  "policy": ...}``
- ``BILLING_INFO``: project id -> ProjectBillingInfo
- ``SERVICES``: project id -> ``{service name: {"enabledAt": unix seconds}}`` (enabled APIs only)
- ``SERVICE_ACCOUNTS``: email -> IAM ServiceAccount; ``SERVICE_ACCOUNT_POLICIES``: email -> Policy

Scenario files (JSON or TOML) seed a strict world: scenario.py.
"""

from __future__ import annotations

import base64
import os
import re
import time
from typing import Any

from deployer_emulator.common import copy_doc, now_rfc3339, policy_etag
from deployer_emulator.core import Emulator

PROJECTS = "resourcemanager.projects"
PROJECT_POLICIES = "resourcemanager.policies"
ORGANIZATIONS = "resourcemanager.organizations"
FOLDERS = "resourcemanager.folders"
BILLING_ACCOUNTS = "billing.accounts"
BILLING_INFO = "billing.projectBillingInfo"
SERVICES = "serviceusage.services"
SERVICE_ACCOUNTS = "iam.serviceAccounts"
SERVICE_ACCOUNT_POLICIES = "iam.serviceAccountPolicies"

# The billing account every project of the open world is linked to.
OPEN_WORLD_BILLING_ACCOUNT = "billingAccounts/000000-000000-000000"

# https://cloud.google.com/resource-manager/docs/creating-managing-projects: 6 to 30 lowercase letters, digits or
# hyphens, starting with a letter, not ending with a hyphen, and no restricted strings such as "google" or "ssl".
PROJECT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
PROJECT_ID_RESTRICTED = ("google", "ssl", "null", "undefined")
# Billing account ids look like 012345-6789AB-CDEF01 (https://cloud.google.com/billing/docs/how-to/find-billing-account-id).
BILLING_ACCOUNT_ID_RE = re.compile(r"^[0-9A-Z]{6}-[0-9A-Z]{6}-[0-9A-Z]{6}$")
# https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create: accountId.
SERVICE_ACCOUNT_ID_RE = re.compile(r"^[a-z]([-a-z0-9]{4,28})[a-z0-9]$")

# The APIs the emulator knows: service name -> (title as Google shows it, needs billing to be enabled).
# Titles as the Cloud Console and Service Usage's ServiceConfig.title show them; "needs billing" per
# https://cloud.google.com/service-usage/docs/enable-disable ("some services require a billing account").
KNOWN_SERVICES: dict[str, tuple[str, bool]] = {
    "artifactregistry.googleapis.com": ("Artifact Registry API", True),
    "bigquery.googleapis.com": ("BigQuery API", False),
    "billingbudgets.googleapis.com": ("Cloud Billing Budget API", False),
    "cloudapis.googleapis.com": ("Google Cloud APIs", False),
    "cloudbilling.googleapis.com": ("Cloud Billing API", False),
    "cloudbuild.googleapis.com": ("Cloud Build API", True),
    "cloudquotas.googleapis.com": ("Cloud Quotas API", False),
    "cloudresourcemanager.googleapis.com": ("Cloud Resource Manager API", False),
    "cloudtrace.googleapis.com": ("Cloud Trace API", False),
    "compute.googleapis.com": ("Compute Engine API", True),
    "containerregistry.googleapis.com": ("Container Registry API", True),
    "datastore.googleapis.com": ("Cloud Datastore API", False),
    "iam.googleapis.com": ("Identity and Access Management (IAM) API", False),
    "iamcredentials.googleapis.com": ("IAM Service Account Credentials API", False),
    "logging.googleapis.com": ("Cloud Logging API", False),
    "monitoring.googleapis.com": ("Cloud Monitoring API", False),
    "pubsub.googleapis.com": ("Cloud Pub/Sub API", False),
    "run.googleapis.com": ("Cloud Run Admin API", True),
    "secretmanager.googleapis.com": ("Secret Manager API", True),
    "servicemanagement.googleapis.com": ("Service Management API", False),
    "serviceusage.googleapis.com": ("Service Usage API", False),
    "sql-component.googleapis.com": ("Cloud SQL", False),
    "storage-api.googleapis.com": ("Google Cloud Storage JSON API", False),
    "storage-component.googleapis.com": ("Cloud Storage", False),
    "storage.googleapis.com": ("Cloud Storage API", False),
    "sts.googleapis.com": ("Security Token Service API", False),
}
# Enabled in every new project (https://cloud.google.com/service-usage/docs/enabled-service#default, the
# subset the emulator knows).
DEFAULT_SERVICES = (
    "bigquery.googleapis.com",
    "cloudapis.googleapis.com",
    "cloudtrace.googleapis.com",
    "datastore.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "servicemanagement.googleapis.com",
    "serviceusage.googleapis.com",
    "sql-component.googleapis.com",
    "storage-api.googleapis.com",
    "storage-component.googleapis.com",
    "storage.googleapis.com",
)
# Enabling one of these creates the Compute Engine default service account (PROJECT_NUMBER-compute@...), which
# Compute Engine, Cloud Run and (for projects created after mid-2024) Cloud Build use by default
# (https://cloud.google.com/compute/docs/access/service-accounts#default_service_account,
# https://cloud.google.com/build/docs/cloud-build-service-account-updates).
CREATES_DEFAULT_COMPUTE_ACCOUNT = ("compute.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com")

# An IAM policy member as Google accepts it in a binding.
MEMBER_RE = re.compile(
    r"allUsers|allAuthenticatedUsers|(?:deleted:)?(?:user|serviceAccount|group):[^@\s]+@[^@\s]+(?:\?uid=\d+)?"
    r"|domain:[a-z0-9.-]+\.[a-z]{2,}|principal(?:Set)?://\S+"
)


def empty_policy() -> dict[str, Any]:
    # What IAM returns for a resource whose policy was never set: version 1 and the etag "ACAB".
    return {"version": 1, "etag": "ACAB"}


def is_open(emulator: Emulator) -> bool:
    return emulator.world != "strict"


# -- projects --------------------------------------------------------------------------------------------------
def project_number_of(project: dict[str, Any]) -> str:
    return str(project["name"]).split("/", 1)[1]


def find_project(emulator: Emulator, ref: str, *, caller: str = "") -> dict[str, Any] | None:
    """The project named by id or number (a copy), or None. The open world creates a project named by id, owned
    by ``caller``."""
    with emulator.state.lock:
        projects = emulator.state.table(PROJECTS)
        doc = projects.get(ref)
        if doc is None and ref.isdigit():
            doc = next((p for p in projects.values() if project_number_of(p) == ref), None)
        if doc is None and is_open(emulator) and PROJECT_ID_RE.match(ref):
            doc = _open_world_project(emulator, ref, caller)
        return copy_doc(doc) if doc is not None else None


def project_id_of(emulator: Emulator, ref: str) -> str | None:
    project = find_project(emulator, ref)
    return str(project["projectId"]) if project else None


def _open_world_project(emulator: Emulator, project_id: str, caller: str) -> dict[str, Any]:
    """Any project the open world is asked about exists: ACTIVE, billed, every known API on."""
    with emulator.mutation():
        accounts = emulator.state.table(BILLING_ACCOUNTS)
        if OPEN_WORLD_BILLING_ACCOUNT not in accounts:
            accounts[OPEN_WORLD_BILLING_ACCOUNT] = {
                "account": {
                    "name": OPEN_WORLD_BILLING_ACCOUNT,
                    "open": True,
                    "displayName": "Open world billing account",
                    "masterBillingAccount": "",
                    "currencyCode": "USD",
                },
                "projectLimit": None,
                "policy": empty_policy(),
            }
        doc = create_project(emulator, project_id, parent="", owner=caller, display_name=project_id)
        link_billing(emulator, project_id, OPEN_WORLD_BILLING_ACCOUNT)
        for service in KNOWN_SERVICES:
            enable_service(emulator, project_id, service, enabled_at=0.0)
        return doc


def create_project(
    emulator: Emulator,
    project_id: str,
    *,
    parent: str,
    owner: str,
    display_name: str = "",
    labels: dict[str, str] | None = None,
    state: str = "ACTIVE",
) -> dict[str, Any]:
    """Store a new project the way Google sets one up: the creator is roles/owner, the default APIs are on, no
    billing account is linked. The caller holds the state lock or accepts a separate save."""
    now = now_rfc3339()
    number = emulator.project_number(project_id)
    doc: dict[str, Any] = {
        "name": f"projects/{number}",
        "projectId": project_id,
        "state": state,
        "displayName": display_name or project_id,
        "createTime": now,
        "updateTime": now,
        "etag": base64.b64encode(os.urandom(12)).decode(),
    }
    if parent:
        doc["parent"] = parent
    if labels:
        doc["labels"] = dict(labels)
    if state == "DELETE_REQUESTED":
        doc["deleteTime"] = now
    with emulator.mutation():
        emulator.state.table(PROJECTS)[project_id] = doc
        policy = {"version": 1, "etag": policy_etag()}
        if owner and owner != "anonymous":
            # https://cloud.google.com/resource-manager/docs/creating-managing-projects: the creator is granted
            # the Owner role on the new project.
            policy["bindings"] = [{"role": "roles/owner", "members": [owner]}]
        emulator.state.table(PROJECT_POLICIES)[project_id] = policy
        emulator.state.table(BILLING_INFO)[project_id] = {
            "name": f"projects/{project_id}/billingInfo",
            "projectId": project_id,
            "billingAccountName": "",
            "billingEnabled": False,
        }
        for service in DEFAULT_SERVICES:
            enable_service(emulator, project_id, service, enabled_at=0.0)
    return copy_doc(doc)


def project_policy(emulator: Emulator, project_id: str) -> dict[str, Any]:
    with emulator.state.lock:
        return copy_doc(emulator.state.table(PROJECT_POLICIES).get(project_id) or empty_policy())


def ancestor_policies(emulator: Emulator, parent: str) -> list[dict[str, Any]]:
    """The policies of a parent (``folders/N`` or ``organizations/N``) and its own ancestors, nearest first."""
    policies: list[dict[str, Any]] = []
    seen: set[str] = set()
    with emulator.state.lock:
        while parent and parent not in seen:
            seen.add(parent)
            table = FOLDERS if parent.startswith("folders/") else ORGANIZATIONS
            record = emulator.state.table(table).get(parent)
            if record is None:
                break
            policies.append(copy_doc(record.get("policy") or empty_policy()))
            parent = str(record["resource"].get("parent", ""))
    return policies


# -- billing ---------------------------------------------------------------------------------------------------
def billing_account(emulator: Emulator, name: str) -> dict[str, Any] | None:
    with emulator.state.lock:
        record = emulator.state.table(BILLING_ACCOUNTS).get(name)
        return copy_doc(record) if record is not None else None


def billing_info(emulator: Emulator, project_id: str) -> dict[str, Any]:
    with emulator.state.lock:
        info = emulator.state.table(BILLING_INFO).get(project_id)
        if info is None:
            info = {
                "name": f"projects/{project_id}/billingInfo",
                "projectId": project_id,
                "billingAccountName": "",
                "billingEnabled": False,
            }
        return copy_doc(info)


def linked_projects(emulator: Emulator, account: str) -> list[str]:
    with emulator.state.lock:
        return sorted(
            project
            for project, info in emulator.state.table(BILLING_INFO).items()
            if info.get("billingAccountName") == account and info.get("billingEnabled")
        )


def link_billing(emulator: Emulator, project_id: str, account: str) -> dict[str, Any]:
    info = {
        "name": f"projects/{project_id}/billingInfo",
        "projectId": project_id,
        "billingAccountName": account,
        "billingEnabled": bool(account),
    }
    with emulator.mutation():
        emulator.state.table(BILLING_INFO)[project_id] = info
    return copy_doc(info)


# -- services --------------------------------------------------------------------------------------------------
def enabled_services(emulator: Emulator, project_id: str) -> dict[str, float]:
    with emulator.state.lock:
        rows = emulator.state.table(SERVICES).get(project_id) or {}
        return {name: float(row.get("enabledAt", 0.0)) for name, row in rows.items()}


def enable_service(emulator: Emulator, project_id: str, service: str, *, enabled_at: float | None = None) -> None:
    """Mark ``service`` enabled (keeping the first enable time of an already enabled one)."""
    with emulator.mutation():
        rows = emulator.state.table(SERVICES).setdefault(project_id, {})
        if service not in rows:
            rows[service] = {"enabledAt": time.time() if enabled_at is None else enabled_at}
    if service in CREATES_DEFAULT_COMPUTE_ACCOUNT:
        ensure_default_compute_account(emulator, project_id)


def disable_service(emulator: Emulator, project_id: str, service: str) -> None:
    with emulator.mutation():
        emulator.state.table(SERVICES).setdefault(project_id, {}).pop(service, None)


def service_readiness(emulator: Emulator, project_id: str, service: str) -> str:
    """``ENABLED``, ``PROPAGATING`` (enabled less than ``service_enable_delay_s`` ago: its own surfaces still
    answer SERVICE_DISABLED, as Google's do for a few minutes) or ``DISABLED``."""
    enabled_at = enabled_services(emulator, project_id).get(service)
    if enabled_at is None:
        return "DISABLED"
    delay = float(emulator.settings.get("service_enable_delay_s", 0.0) or 0.0)
    return "PROPAGATING" if time.time() - enabled_at < delay else "ENABLED"


# -- service accounts ------------------------------------------------------------------------------------------
def service_account_email(account_id: str, project_id: str) -> str:
    return f"{account_id}@{project_id}.iam.gserviceaccount.com"


def default_compute_account(emulator: Emulator, project_id: str) -> str:
    return f"{emulator.project_number(project_id)}-compute@developer.gserviceaccount.com"


def service_account_project(emulator: Emulator, email: str) -> str | None:
    """The project that owns a service account, from its email: ``ID@PROJECT.iam.gserviceaccount.com`` or the
    Google-managed ``NUMBER-compute@developer.gserviceaccount.com`` / ``NUMBER@cloudbuild.gserviceaccount.com``."""
    local, _, domain = email.lower().partition("@")
    if domain.endswith(".iam.gserviceaccount.com"):
        return project_id_of(emulator, domain[: -len(".iam.gserviceaccount.com")])
    if domain == "developer.gserviceaccount.com" and local.endswith("-compute"):
        return project_id_of(emulator, local[: -len("-compute")])
    if domain == "cloudbuild.gserviceaccount.com":
        return project_id_of(emulator, local)
    with emulator.state.lock:
        doc = emulator.state.table(SERVICE_ACCOUNTS).get(email.lower())
        return str(doc["projectId"]) if doc else None


def find_service_account(emulator: Emulator, ref: str) -> dict[str, Any] | None:
    """A service account by email or numeric unique id (a copy), or None."""
    with emulator.state.lock:
        table = emulator.state.table(SERVICE_ACCOUNTS)
        doc = table.get(ref.lower())
        if doc is None and ref.isdigit():
            doc = next((d for d in table.values() if d.get("uniqueId") == ref), None)
        return copy_doc(doc) if doc is not None else None


def new_unique_id() -> str:
    # Service account unique ids are 21-digit numbers (https://cloud.google.com/iam/docs/service-account-overview).
    return str(100000000000000000000 + int.from_bytes(os.urandom(8), "big") % 899999999999999999999)


def store_service_account(
    emulator: Emulator, project_id: str, email: str, *, display_name: str = "", description: str = ""
) -> dict[str, Any]:
    unique_id = new_unique_id()
    doc: dict[str, Any] = {
        "name": f"projects/{project_id}/serviceAccounts/{email}",
        "projectId": project_id,
        "uniqueId": unique_id,
        "email": email,
        "etag": "MDEwMjE5MjA=",  # IAM answers this constant, deprecated etag
        "oauth2ClientId": unique_id,
    }
    if display_name:
        doc["displayName"] = display_name
    if description:
        doc["description"] = description
    with emulator.mutation():
        emulator.state.table(SERVICE_ACCOUNTS)[email.lower()] = doc
    return copy_doc(doc)


def ensure_default_compute_account(emulator: Emulator, project_id: str) -> None:
    """The Compute Engine default service account, created with its API. It gets roles/editor on the project only
    when the project is outside an organization: organizations created after 2024-05-03 enforce
    iam.automaticIamGrantsForDefaultServiceAccounts, so it has no role there
    (https://cloud.google.com/resource-manager/docs/organization-policy/restricting-service-accounts#disable_service_account_default_grants).
    """
    email = default_compute_account(emulator, project_id)
    if find_service_account(emulator, email) is not None:
        return
    store_service_account(emulator, project_id, email, display_name="Compute Engine default service account")
    project = find_project(emulator, project_id)
    if project is not None and not project.get("parent"):
        with emulator.mutation():
            policy = emulator.state.table(PROJECT_POLICIES).setdefault(project_id, empty_policy())
            add_binding(policy, "roles/editor", f"serviceAccount:{email}")
            policy["etag"] = policy_etag()


def service_account_policy(emulator: Emulator, email: str) -> dict[str, Any]:
    with emulator.state.lock:
        return copy_doc(emulator.state.table(SERVICE_ACCOUNT_POLICIES).get(email.lower()) or empty_policy())


def add_binding(policy: dict[str, Any], role: str, member: str) -> None:
    bindings = policy.setdefault("bindings", [])
    for binding in bindings:
        if binding.get("role") == role and "condition" not in binding:
            if member not in binding["members"]:
                binding["members"].append(member)
            return
    bindings.append({"role": role, "members": [member]})
