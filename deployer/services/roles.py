"""Who gets which predefined role, and why: the three accounts `deployer bootstrap` makes and a team member.

- the CI deployer (``deployer-ci``): what GitHub Actions impersonates. It builds, looks images up, deploys Cloud Run
  and VMs (with their firewall rules), and may act as the build and runtime accounts only;
- the build account (``deployer-build``): what Cloud Build runs the build as. It reads the source, writes logs,
  pushes the image;
- the runtime account (``deployer-runtime``): what services, jobs and VMs run as. Nothing project-wide by default
  (a VM also pulls its image and writes its logs); what a workload needs is the user's to add, as
  ``roles = [...]`` on its table in deployer.toml.

README.md ("Who may do what") lists the same grants for people; a test holds the two together. Roles are
predefined ones (https://cloud.google.com/iam/docs/roles-permissions); that they hold what the deploys need is
tested against Google's own role definitions (emulator/deployer_emulator/data/gcp-roles.json), never against a
table typed here.
"""

from __future__ import annotations

from dataclasses import dataclass

CI_ACCOUNT_ID = "deployer-ci"
BUILD_ACCOUNT_ID = "deployer-build"
RUNTIME_ACCOUNT_ID = "deployer-runtime"
ACCOUNT_IDS = (CI_ACCOUNT_ID, BUILD_ACCOUNT_ID, RUNTIME_ACCOUNT_ID)

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


# The CI deployer: GitHub Actions deploys as it, through Workload Identity Federation (never a key).
CI_ROLES: tuple[Grant, ...] = (
    Grant(
        "roles/run.admin",
        "create and update Cloud Run services and jobs, and make a service public (run.developer lacks "
        "run.services.setIamPolicy)",
    ),
    Grant("roles/cloudbuild.builds.editor", "submit builds and follow them"),
    Grant(
        "roles/storage.admin",
        "create Cloud Build's source bucket PROJECT_cloudbuild on first use, upload the source and read build logs "
        "(storage.objectAdmin lacks storage.buckets.get and storage.buckets.create)",
    ),
    Grant("roles/artifactregistry.reader", "look up an image by its content tag, to skip rebuilding it"),
)
CI_VM_ROLES: tuple[Grant, ...] = (
    Grant("roles/compute.instanceAdmin.v1", "create, update and reset the Compute Engine VMs of [vms]"),
    Grant(
        "roles/compute.securityAdmin",
        "create and update the firewall rule of a VM with ports (instanceAdmin.v1 lacks compute.firewalls.create)",
    ),
)

# The build account: Cloud Build runs the build steps as it.
BUILD_ACCOUNT_ROLES: tuple[Grant, ...] = (
    Grant("roles/artifactregistry.writer", "push the built image to the project's Artifact Registry repositories"),
    Grant("roles/logging.logWriter", "write the build's log to Cloud Logging"),
    Grant(
        "roles/storage.objectAdmin",
        "read the uploaded source archive and write the build log object (objects only: no bucket admin)",
    ),
)

# The runtime account: nothing project-wide for services and jobs (Cloud Run pulls the image with its own service
# agent). A VM's own account pulls the image and ships the container's logs.
RUNTIME_ACCOUNT_ROLES: tuple[Grant, ...] = ()
RUNTIME_ACCOUNT_VM_ROLES: tuple[Grant, ...] = (
    Grant("roles/artifactregistry.reader", "a VM running as this account pulls its image from Artifact Registry"),
    Grant("roles/logging.logWriter", "a VM running as this account sends its container's logs to Cloud Logging"),
)

# A team member given with --member: deploy every kind deployer.toml describes, read the logs.
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
    Grant("roles/compute.securityAdmin", "create the firewall rule of a VM with ports"),
)

# Grants on the service accounts themselves (their IAM policy).
ACT_AS_REASON = "deploy workloads that run as the runtime account, and builds that run as the build account"
WORKLOAD_IDENTITY_REASON = "let that repository's GitHub Actions workflows impersonate the CI deployer, keylessly"


def ci_roles(*, vms: bool) -> tuple[Grant, ...]:
    return CI_ROLES + (CI_VM_ROLES if vms else ())


def build_account_roles() -> tuple[Grant, ...]:
    return BUILD_ACCOUNT_ROLES


def runtime_account_roles(*, vms: bool, workload_roles: tuple[str, ...] = ()) -> tuple[Grant, ...]:
    """The runtime account's project roles: a VM's pull and logs, and what deployer.toml's ``roles`` ask for."""
    asked = tuple(Grant(role, "asked for by roles = [...] in deployer.toml") for role in workload_roles)
    return RUNTIME_ACCOUNT_ROLES + (RUNTIME_ACCOUNT_VM_ROLES if vms else ()) + asked


def developer_roles(*, vms: bool) -> tuple[Grant, ...]:
    return DEVELOPER_ROLES + (DEVELOPER_VM_ROLES if vms else ())
