"""Who gets which predefined role, and why: the accounts `deployer bootstrap` makes and a team developer.

README.md ("Roles bootstrap grants") lists the same tables for people; keep them in step. Roles are predefined ones
(https://cloud.google.com/iam/docs/roles-permissions); each grant says why it is needed, so a reviewer can tell it
is the least that works.

``ROLE_PERMISSIONS`` is the part of each role's permission list that `deployer doctor` reasons about: which of the
permissions it tests a role grants. Sources, per service: https://cloud.google.com/iam/docs/roles-permissions/
artifactregistry, /cloudbuild, /logging, /run, /storage, /iam, /compute, and the basic roles
(https://cloud.google.com/iam/docs/roles-overview#basic).
"""

from __future__ import annotations

from dataclasses import dataclass

BUILD_ACCOUNT_ID = "deployer-build"
RUNTIME_ACCOUNT_ID = "deployer-runtime"

SERVICE_ACCOUNT_USER = "roles/iam.serviceAccountUser"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


def service_account_email(account_id: str, project: str) -> str:
    """``ID@PROJECT.iam.gserviceaccount.com`` (a domain-scoped ``example.com:proj`` gives ``proj.example.com``)."""
    if ":" in project:
        domain, name = project.split(":", 1)
        return f"{account_id}@{name}.{domain}.iam.gserviceaccount.com"
    return f"{account_id}@{project}.iam.gserviceaccount.com"


@dataclass(frozen=True)
class Grant:
    role: str
    reason: str


# The build account: Cloud Build runs the build steps as it. It pushes the image and may deploy from a build step.
BUILD_ACCOUNT_ROLES: tuple[Grant, ...] = (
    Grant("roles/artifactregistry.writer", "push the built image to the project's Artifact Registry repositories"),
    Grant("roles/logging.logWriter", "write the build's log to Cloud Logging"),
    Grant(
        "roles/storage.objectAdmin",
        "read the uploaded source archive and write the build log object (objects only: no bucket admin)",
    ),
    Grant("roles/run.developer", "deploy a Cloud Run service or job from a build step (no IAM changes)"),
)

# The deploy/runtime account: what GitHub Actions deploys as (through Workload Identity Federation) and what the
# deployed service, job or VM runs as.
RUNTIME_ACCOUNT_ROLES: tuple[Grant, ...] = (
    Grant("roles/run.developer", "create and update Cloud Run services and jobs, and run jobs (no IAM changes)"),
    Grant("roles/cloudbuild.builds.editor", "submit builds to Cloud Build and follow them"),
    Grant(
        "roles/storage.admin",
        "create Cloud Build's source bucket PROJECT_cloudbuild on first use, upload the source and read build logs "
        "(storage.objectAdmin lacks storage.buckets.get and storage.buckets.create)",
    ),
    Grant(
        "roles/artifactregistry.reader",
        "look up an image by its content tag to skip rebuilding, and pull images (a VM running as this account)",
    ),
)
RUNTIME_ACCOUNT_VM_ROLES: tuple[Grant, ...] = (
    Grant("roles/logging.logWriter", "a VM running as this account sends its container's logs to Cloud Logging"),
)

# A team developer given with --member: deploy everything deployer.toml describes, read the logs.
DEVELOPER_ROLES: tuple[Grant, ...] = (
    Grant("roles/run.admin", "deploy services and jobs, and make a service public (run.invoker for allUsers)"),
    Grant("roles/cloudbuild.builds.editor", "submit builds and follow them"),
    Grant("roles/artifactregistry.writer", "look up and push images"),
    Grant("roles/storage.admin", "create the source bucket, upload build contexts and read build logs"),
    Grant("roles/logging.viewer", "read build, service and job logs"),
    Grant(
        "roles/serviceusage.serviceUsageConsumer",
        "use the project's APIs when it is the quota project of your credentials",
    ),
)
DEVELOPER_VM_ROLES: tuple[Grant, ...] = (
    Grant("roles/compute.instanceAdmin.v1", "create and update the Compute Engine VMs of [vms]"),
)

# Grants on the service accounts themselves (their IAM policy), by role.
ACT_AS_REASON = "deploy workloads that run as the deploy/runtime account (iam.serviceAccounts.actAs on it only)"
BUILD_ACT_AS_REASON = "submit builds that run as the build account (iam.serviceAccounts.actAs on it only)"
WORKLOAD_IDENTITY_REASON = "let that repository's GitHub Actions workflows impersonate the deploy account, keylessly"


def build_account_roles() -> tuple[Grant, ...]:
    return BUILD_ACCOUNT_ROLES


def runtime_account_roles(*, vms: bool) -> tuple[Grant, ...]:
    return RUNTIME_ACCOUNT_ROLES + (RUNTIME_ACCOUNT_VM_ROLES if vms else ())


def developer_roles(*, vms: bool) -> tuple[Grant, ...]:
    return DEVELOPER_ROLES + (DEVELOPER_VM_ROLES if vms else ())


# --- what the roles grant, for the permissions deployer tests ---------------------------------------------------------

_BASIC_WRITE = frozenset(
    {
        "artifactregistry.repositories.create",
        "artifactregistry.repositories.get",
        "artifactregistry.repositories.uploadArtifacts",
        "artifactregistry.repositories.downloadArtifacts",
        "cloudbuild.builds.create",
        "compute.disks.create",
        "compute.instances.create",
        "compute.instances.setMetadata",
        "compute.subnetworks.use",
        "compute.subnetworks.useExternalIp",
        "iam.serviceAccounts.actAs",
        "iam.serviceAccounts.create",
        "iam.googleapis.com/workloadIdentityPools.create",
        "logging.logEntries.create",
        "run.jobs.create",
        "run.jobs.run",
        "run.services.create",
        "run.services.update",
        "serviceusage.services.enable",
        "storage.buckets.create",
        "storage.buckets.get",
        "storage.objects.create",
        "storage.objects.get",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    # Basic roles: Editor holds every permission above but the IAM-policy ones; Owner holds those too.
    "roles/owner": _BASIC_WRITE
    | {"resourcemanager.projects.setIamPolicy", "run.services.setIamPolicy", "iam.serviceAccounts.setIamPolicy"},
    "roles/editor": _BASIC_WRITE,
    "roles/artifactregistry.admin": frozenset(
        {
            "artifactregistry.repositories.create",
            "artifactregistry.repositories.get",
            "artifactregistry.repositories.uploadArtifacts",
            "artifactregistry.repositories.downloadArtifacts",
        }
    ),
    "roles/artifactregistry.repoAdmin": frozenset(
        {
            "artifactregistry.repositories.get",
            "artifactregistry.repositories.uploadArtifacts",
            "artifactregistry.repositories.downloadArtifacts",
        }
    ),
    "roles/artifactregistry.writer": frozenset(
        {
            "artifactregistry.repositories.get",
            "artifactregistry.repositories.uploadArtifacts",
            "artifactregistry.repositories.downloadArtifacts",
        }
    ),
    "roles/artifactregistry.reader": frozenset(
        {"artifactregistry.repositories.get", "artifactregistry.repositories.downloadArtifacts"}
    ),
    "roles/cloudbuild.builds.editor": frozenset({"cloudbuild.builds.create"}),
    # What the legacy Cloud Build account holds ("Cloud Build Service Account").
    "roles/cloudbuild.builds.builder": frozenset(
        {
            "artifactregistry.repositories.get",
            "artifactregistry.repositories.uploadArtifacts",
            "artifactregistry.repositories.downloadArtifacts",
            "cloudbuild.builds.create",
            "logging.logEntries.create",
            "storage.buckets.create",
            "storage.buckets.get",
            "storage.objects.create",
            "storage.objects.get",
        }
    ),
    "roles/logging.logWriter": frozenset({"logging.logEntries.create"}),
    "roles/storage.admin": frozenset(
        {"storage.buckets.create", "storage.buckets.get", "storage.objects.create", "storage.objects.get"}
    ),
    "roles/storage.objectAdmin": frozenset({"storage.objects.create", "storage.objects.get"}),
    "roles/storage.objectUser": frozenset({"storage.objects.create", "storage.objects.get"}),
    "roles/storage.objectCreator": frozenset({"storage.objects.create"}),
    "roles/storage.objectViewer": frozenset({"storage.objects.get"}),
    "roles/run.admin": frozenset(
        {
            "run.services.create",
            "run.services.update",
            "run.services.setIamPolicy",
            "run.jobs.create",
            "run.jobs.run",
        }
    ),
    "roles/run.developer": frozenset({"run.services.create", "run.services.update", "run.jobs.create", "run.jobs.run"}),
    "roles/iam.serviceAccountUser": frozenset({"iam.serviceAccounts.actAs"}),
    "roles/compute.instanceAdmin.v1": frozenset(
        {
            "compute.disks.create",
            "compute.instances.create",
            "compute.instances.setMetadata",
            "compute.subnetworks.use",
            "compute.subnetworks.useExternalIp",
        }
    ),
}

# What the build account must hold to push and to deploy, and a role of BUILD_ACCOUNT_ROLES that grants each.
BUILD_ACCOUNT_NEEDS: dict[str, str] = {
    "artifactregistry.repositories.uploadArtifacts": "roles/artifactregistry.writer",
    "logging.logEntries.create": "roles/logging.logWriter",
    "storage.objects.get": "roles/storage.objectAdmin",
    "run.services.create": "roles/run.developer",
}


def permissions_of(roles: set[str] | frozenset[str]) -> frozenset[str]:
    """The tested permissions the given roles grant between them (roles deployer does not know grant none here)."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
