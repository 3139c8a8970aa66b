"""The catalogue that turns Google's errors into what happened, why, and the fix.

Reasons come from the ``google.rpc.ErrorInfo`` detail Google attaches (api_core exposes ``reason``, ``domain`` and
``metadata``); https://cloud.google.com/apis/design/errors#error_info lists the common ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from deployer.errors import DeployerError

T = TypeVar("T")

# Permission -> a predefined role that grants it (https://cloud.google.com/iam/docs/roles-permissions). The roles
# are the narrowest predefined ones that hold the permission and the others a deploy needs alongside it.
ROLE_FOR_PERMISSION: dict[str, str] = {
    "cloudbuild.builds.create": "roles/cloudbuild.builds.editor",
    "cloudbuild.builds.get": "roles/cloudbuild.builds.viewer",
    "cloudbuild.builds.list": "roles/cloudbuild.builds.viewer",
    "cloudbuild.builds.update": "roles/cloudbuild.builds.editor",
    "storage.buckets.create": "roles/storage.admin",
    "storage.buckets.get": "roles/storage.admin",
    "storage.objects.create": "roles/storage.objectCreator",
    "storage.objects.get": "roles/storage.objectViewer",
    "storage.objects.list": "roles/storage.objectViewer",
    "artifactregistry.repositories.create": "roles/artifactregistry.admin",
    "artifactregistry.repositories.get": "roles/artifactregistry.reader",
    "artifactregistry.repositories.uploadArtifacts": "roles/artifactregistry.writer",
    "artifactregistry.repositories.downloadArtifacts": "roles/artifactregistry.reader",
    "artifactregistry.tags.get": "roles/artifactregistry.reader",
    "artifactregistry.dockerimages.get": "roles/artifactregistry.reader",
    "run.services.create": "roles/run.developer",
    "run.services.update": "roles/run.developer",
    "run.services.get": "roles/run.viewer",
    "run.services.delete": "roles/run.developer",
    "run.services.getIamPolicy": "roles/run.viewer",
    "run.services.setIamPolicy": "roles/run.admin",
    "run.operations.get": "roles/run.viewer",
    "iam.serviceAccounts.actAs": "roles/iam.serviceAccountUser",
    "serviceusage.services.enable": "roles/serviceusage.serviceUsageAdmin",
    "serviceusage.services.use": "roles/serviceusage.serviceUsageConsumer",
    "serviceusage.services.list": "roles/serviceusage.serviceUsageViewer",
    "run.jobs.create": "roles/run.developer",
    "run.jobs.run": "roles/run.developer",
    "run.jobs.get": "roles/run.viewer",
    "run.jobs.update": "roles/run.developer",
    "run.jobs.delete": "roles/run.developer",
    "run.jobs.runWithOverrides": "roles/run.developer",
    "run.executions.get": "roles/run.viewer",
    "run.executions.list": "roles/run.viewer",
    "run.executions.cancel": "roles/run.developer",
    "run.tasks.list": "roles/run.viewer",
    "logging.logEntries.list": "roles/logging.viewer",
    "compute.instances.create": "roles/compute.instanceAdmin.v1",
    "compute.instances.setMetadata": "roles/compute.instanceAdmin.v1",
    "compute.disks.create": "roles/compute.instanceAdmin.v1",
    "compute.subnetworks.use": "roles/compute.instanceAdmin.v1",
    "compute.subnetworks.useExternalIp": "roles/compute.instanceAdmin.v1",
    "logging.logEntries.create": "roles/logging.logWriter",
    "resourcemanager.projects.create": "roles/resourcemanager.projectCreator",
    "resourcemanager.projects.get": "roles/browser",
    "resourcemanager.projects.getIamPolicy": "roles/iam.securityReviewer",
    "resourcemanager.projects.setIamPolicy": "roles/resourcemanager.projectIamAdmin",
    "resourcemanager.projects.createBillingAssignment": "roles/billing.projectManager",
    "billing.resourceAssociations.create": "roles/billing.user",
    "billing.accounts.get": "roles/billing.viewer",
    "billing.budgets.create": "roles/billing.costsManager",
    "billing.budgets.list": "roles/billing.costsManager",
    "iam.serviceAccounts.create": "roles/iam.serviceAccountCreator",
    "iam.serviceAccounts.get": "roles/iam.serviceAccountViewer",
    "iam.serviceAccounts.getIamPolicy": "roles/iam.serviceAccountAdmin",
    "iam.serviceAccounts.setIamPolicy": "roles/iam.serviceAccountAdmin",
    # Workload Identity Federation's permissions carry the service name (roles-permissions/iam).
    "iam.googleapis.com/workloadIdentityPools.create": "roles/iam.workloadIdentityPoolAdmin",
    "iam.googleapis.com/workloadIdentityPools.get": "roles/iam.workloadIdentityPoolViewer",
    "iam.googleapis.com/workloadIdentityPools.undelete": "roles/iam.workloadIdentityPoolAdmin",
    "iam.googleapis.com/workloadIdentityPoolProviders.create": "roles/iam.workloadIdentityPoolAdmin",
    "iam.googleapis.com/workloadIdentityPoolProviders.update": "roles/iam.workloadIdentityPoolAdmin",
    "artifactregistry.repositories.update": "roles/artifactregistry.admin",
    "run.services.list": "roles/run.viewer",
    "compute.regions.get": "roles/compute.instanceAdmin.v1",
    "compute.machineTypes.get": "roles/compute.instanceAdmin.v1",
    "compute.acceleratorTypes.list": "roles/compute.instanceAdmin.v1",
    "compute.projects.get": "roles/compute.instanceAdmin.v1",
    "compute.instances.get": "roles/compute.instanceAdmin.v1",
    "compute.instances.list": "roles/compute.instanceAdmin.v1",
    "compute.instances.setLabels": "roles/compute.instanceAdmin.v1",
    "compute.instances.setServiceAccount": "roles/compute.instanceAdmin.v1",
    "compute.instances.reset": "roles/compute.instanceAdmin.v1",
    "compute.firewalls.get": "roles/compute.instanceAdmin.v1",
    # Firewall rules: instanceAdmin.v1 and networkAdmin lack them; securityAdmin holds them.
    "compute.firewalls.create": "roles/compute.securityAdmin",
    "compute.firewalls.update": "roles/compute.securityAdmin",
    "compute.networks.updatePolicy": "roles/compute.securityAdmin",
}

# How to ask for a higher billing quota (number of projects a billing account may pay for):
# https://cloud.google.com/billing/docs/how-to/modify-project#billing_quota_increase
BILLING_QUOTA_INCREASE_URL = "https://support.google.com/code/contact/billing_quota_increase"


class PolicyConflict(DeployerError):
    """An IAM policy write Google refused because the policy changed since it was read (409 ABORTED on the etag),
    or because a just-created service account it names is not visible yet: read, modify and write again."""


@contextmanager
def policy_conflicts(action: str) -> Iterator[None]:
    """Turn the failures of an IAM policy write that a fresh read-modify-write cures into PolicyConflict.

    A stale etag answers 409 ABORTED ("There were concurrent policy changes...",
    https://cloud.google.com/iam/docs/policies#etag); a service account created seconds ago may not be visible to
    IAM yet and answers 400 "Service account ... does not exist" (https://cloud.google.com/iam/docs/
    service-accounts-create#creating: "it might take up to 60 seconds").
    """
    from google.api_core import exceptions as gexc

    try:
        yield
    except (gexc.Aborted, gexc.Conflict) as exc:
        raise PolicyConflict(f"{action}: the policy changed since it was read ({exc.message})") from exc
    except (gexc.BadRequest, gexc.NotFound) as exc:
        if "does not exist" in (exc.message or "") and "serviceaccount" in (exc.message or "").lower().replace(" ", ""):
            raise PolicyConflict(f"{action}: a service account it names is not visible yet ({exc.message})") from exc
        raise


def billing_limit_error(project: str, account: str) -> DeployerError:
    """Google's bare "Precondition check failed." on linking billing, in words: the account's project quota is used."""
    return DeployerError(
        f'cannot link billing account {account} to {project}: Google answered "Precondition check failed", which '
        "means the billing account already pays for as many projects as it may (new accounts get only a few)",
        f"unlink a project you no longer need (gcloud billing projects unlink OLD_PROJECT), use another billing "
        f"account (--billing-account), or ask for a higher limit: {BILLING_QUOTA_INCREASE_URL}",
    )


_PERMISSION_IN_MESSAGE = re.compile(r"[Pp]ermission '?([a-z]+\.[a-zA-Z]+\.[a-zA-Z]+)'?")


def _project_of(metadata: dict[str, str], fallback: str | None) -> str | None:
    consumer = metadata.get("consumer", "")
    return consumer.removeprefix("projects/") if consumer.startswith("projects/") else fallback


def translate(exc: Exception, *, action: str, project: str | None = None) -> DeployerError:
    """A DeployerError for a failed Google call: ``action`` says what we were doing, in words."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, DeployerError):
        return exc
    if _is_credentials_error(exc):
        return credentials_error(exc, action=action)
    if not isinstance(exc, gexc.GoogleAPICallError):
        return _transport_error(exc, action=action)

    reason = getattr(exc, "reason", None) or ""
    metadata: dict[str, str] = dict(getattr(exc, "metadata", None) or {})
    message = (exc.message or str(exc)).strip()
    where = f" in project {project}" if project else ""

    if reason in ("SERVICE_DISABLED", "ACCESS_NOT_CONFIGURED"):
        service = metadata.get("service") or metadata.get("serviceName") or "the API"
        target = _project_of(metadata, project) or "PROJECT"
        return DeployerError(
            f"{action} failed: {service} is not enabled{where}",
            f"gcloud services enable {service} --project {target}   (a newly enabled API can take a few minutes)",
        )
    if reason == "BILLING_DISABLED" or ("billing" in message.lower() and "disabled" in message.lower()):
        target = _project_of(metadata, project) or "PROJECT"
        return DeployerError(
            f"{action} failed: billing is not enabled{where}",
            f"link a billing account: gcloud billing projects link {target} --billing-account ACCOUNT_ID",
        )
    if (
        isinstance(exc, gexc.FailedPrecondition | gexc.BadRequest)
        and "precondition check failed" in message.lower()
        and "billing" in action.lower()
    ):
        return billing_limit_error(project or "the project", "the billing account")
    if isinstance(exc, gexc.PermissionDenied | gexc.Forbidden):
        permission = metadata.get("permission")
        if permission is None:
            found = _PERMISSION_IN_MESSAGE.search(message)
            permission = found.group(1) if found else None
        if permission:
            role = ROLE_FOR_PERMISSION.get(permission, "a role that includes it")
            return DeployerError(
                f"{action} failed: the caller lacks the permission {permission}{where}",
                f"grant {role}: gcloud projects add-iam-policy-binding {project or 'PROJECT'} "
                f"--member user:YOU@EXAMPLE.COM --role {role}",
            )
        return DeployerError(f"{action} failed: permission denied{where}: {message}", "check the caller's IAM roles")
    if isinstance(exc, gexc.Unauthenticated | gexc.Unauthorized):
        return DeployerError(
            f"{action} failed: the credentials were refused ({message})",
            "run `gcloud auth application-default login` again, or check the CI identity",
        )
    if isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted):
        return DeployerError(
            f"{action} failed: a quota or rate limit was exceeded{where}: {message}",
            f"wait and retry, or request more quota: https://console.cloud.google.com/iam-admin/quotas"
            f"?project={project or ''}",
        )
    if isinstance(exc, gexc.BadRequest | gexc.InvalidArgument):
        return DeployerError(f"{action} failed: Google rejected the request: {message}", None)
    if isinstance(exc, gexc.NotFound):
        return DeployerError(f"{action} failed: not found: {message}", None)
    if isinstance(exc, gexc.ServiceUnavailable | gexc.InternalServerError | gexc.GatewayTimeout):
        return DeployerError(f"{action} failed: Google answered {exc.code}: {message}", "retry in a minute")
    return DeployerError(f"{action} failed: {message}", None)


def _is_credentials_error(exc: BaseException) -> bool:
    """google.auth could not get a token: refused (expired or revoked login, a deleted account) or none found.

    Its TransportError (the token endpoint unreachable) is a network problem and is left to ``_transport_error``.
    The error may come wrapped by the client library, so the causes are looked at too.
    """
    from google.auth import exceptions as auth_exc

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, auth_exc.RefreshError | auth_exc.DefaultCredentialsError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def credentials_error(exc: BaseException, *, action: str) -> DeployerError:
    """What to do when the login is no longer good: log in again (never "check the network")."""
    return DeployerError(
        f"{action} failed: the Google credentials could not be refreshed ({type(exc).__name__}: {exc}); the login "
        "has expired or was revoked",
        "log in again: `gcloud auth application-default login`; in GitHub Actions, check the "
        "google-github-actions/auth step (workload identity provider and service account)",
    )


def _transport_error(exc: Exception, *, action: str) -> DeployerError:
    import os

    emulator = os.environ.get("DEPLOYER_EMULATOR_URL")
    if emulator:
        return DeployerError(
            f"{action} failed: cannot reach the emulator at {emulator} ({type(exc).__name__})",
            "start one with `deployer emulator start`, or unset DEPLOYER_EMULATOR_URL to use Google Cloud",
        )
    return DeployerError(f"{action} failed: {type(exc).__name__}: {exc}", "check the network connection and retry")


@contextmanager
def google_call(action: str, *, project: str | None = None) -> Iterator[None]:
    """Run Google calls; any failure becomes a DeployerError naming ``action``."""
    try:
        yield
    except DeployerError:
        raise
    except Exception as exc:
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth_exc
        from requests import exceptions as req_exc

        known: tuple[type[BaseException], ...] = (
            gexc.GoogleAPIError,
            auth_exc.GoogleAuthError,
            req_exc.RequestException,
            ConnectionError,
        )
        if isinstance(exc, known):
            raise translate(exc, action=action, project=project) from exc
        raise


def is_not_found(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, gexc.NotFound)


def describe_operation_error(error: Any) -> str:
    """The message of an Operation's ``error`` (a google.rpc.Status or an api_core exception)."""
    message = getattr(error, "message", None)
    return str(message or error)


def none_if_missing(call: Callable[[], T]) -> T | None:
    """``call()``, or None when Google answers that the resource does not exist (NotFound)."""
    from google.api_core import exceptions as gexc

    try:
        return call()
    except gexc.NotFound:
        return None
