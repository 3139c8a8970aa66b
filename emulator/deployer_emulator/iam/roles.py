"""The predefined roles deployer meets, each with the permissions it really has (see the package docstring)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


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
