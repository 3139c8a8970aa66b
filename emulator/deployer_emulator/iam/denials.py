"""Google's refusals: SERVICE_DISABLED, 401 without credentials, and each API's own permission-denied words."""

from __future__ import annotations

from typing import Any

from deployer_emulator import world
from deployer_emulator.common import caller_email
from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import ApiError, error_info
from deployer_emulator.iam.targets import Target


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
        from deployer_emulator.storage.base import StorageError

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
                f"The user does not have access to service account '{email}'.  "
                f"User: '{caller_email(req.caller)}'.  Ask a project owner to grant you the iam.serviceAccountUser "
                "role on the service account"
            )
            return LegacyApiError(400, "INVALID_ARGUMENT", message, reason="serviceAccountPermissionDenied")
    if api == "storage.googleapis.com":
        from deployer_emulator.storage.base import StorageError

        # "x does not have storage.objects.create access to the Google Cloud Storage object. Permission
        # 'storage.objects.create' denied on resource (or it may not exist)." (JSON API 403)
        what = _storage_noun(permission, resource)
        return StorageError(
            403,
            "forbidden",
            f"{caller_email(req.caller)} does not have {permission} access to the Google Cloud Storage {what}. "
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
