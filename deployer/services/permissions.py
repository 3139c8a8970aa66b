"""Which permissions each kind of deploy needs: the lists the adapters in deployer/gcp/ declare next to their calls,
put together per target kind. Doctor tests exactly these (one testIamPermissions), the role tests check that the
roles bootstrap grants hold them, and nothing else lists permissions.

A kind registers its tuple once (``KIND_PERMISSIONS["job"] = run_jobs.PERMISSIONS``); a build, the repository and
options (public, ports) add theirs.
"""

from __future__ import annotations

from deployer.gcp import artifactregistry, cloudbuild, compute, run, run_jobs, storage

ACT_AS = "iam.serviceAccounts.actAs"  # on the account the workload runs as (its own policy), or the project's

# Every deploy builds (or looks up) its image first.
BUILD_PERMISSIONS: tuple[str, ...] = (
    *storage.SOURCE_PERMISSIONS,
    *cloudbuild.BUILD_PERMISSIONS,
    *artifactregistry.LOOKUP_PERMISSIONS,
)
REPOSITORY_PERMISSIONS: tuple[str, ...] = artifactregistry.CREATE_PERMISSIONS

KIND_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "service": run.SERVICE_PERMISSIONS,
    "vm": compute.VM_PERMISSIONS,
    # actAs is checked on the account the job runs as, like a service's and a VM's.
    "job": tuple(p for p in run_jobs.PERMISSIONS["deploy"] if p != ACT_AS),
}
# What an option of a target adds: a public service sets its IAM policy; a VM with ports writes a firewall rule.
OPTION_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "public": run.PUBLIC_PERMISSIONS,
    "ports": compute.FIREWALL_PERMISSIONS,
}


def deploy_permissions(kind: str, *options: str, repository_exists: bool = True) -> list[str]:
    """The project permissions a deploy of one ``kind`` target with ``options`` needs, in a stable order."""
    wanted = [*BUILD_PERMISSIONS, *([] if repository_exists else REPOSITORY_PERMISSIONS), *KIND_PERMISSIONS[kind]]
    for option in options:
        wanted += OPTION_PERMISSIONS[option]
    return list(dict.fromkeys(wanted))


def every_deploy_permission() -> list[str]:
    """What deploying every kind, with every option, into a project without the repository needs."""
    wanted = [*BUILD_PERMISSIONS, *REPOSITORY_PERMISSIONS]
    for permissions in (*KIND_PERMISSIONS.values(), *OPTION_PERMISSIONS.values()):
        wanted += permissions
    return list(dict.fromkeys(wanted))
