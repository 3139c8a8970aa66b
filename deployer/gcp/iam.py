"""IAM v1: service accounts, their IAM policies, and Workload Identity pools and providers.

No google-cloud library speaks IAM v1 over REST (``iam_admin_v1`` is gRPC only, and Workload Identity Federation is
in none), so this adapter sends the REST calls itself through google-auth's AuthorizedSession, with the same
credentials as every other client. Paths and fields: https://cloud.google.com/iam/docs/reference/rest (checked
against gcloud's generated ``iam_v1`` client). Service account calls are synchronous; pool and provider changes
are long-running operations polled at ``v1/{operation name}``.

deployer never creates a service account key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from deployer.errors import DeployerError
from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call, policy_conflicts

IAM_HOST = "iam.googleapis.com"
OPERATION_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class ServiceAccount:
    email: str
    name: str  # projects/P/serviceAccounts/EMAIL
    disabled: bool = False


@dataclass(frozen=True)
class WorkloadIdentityResource:
    """A pool or a provider as Google returns it (REST JSON); ``state`` is ACTIVE or DELETED."""

    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.doc.get("name", ""))

    @property
    def state(self) -> str:
        return str(self.doc.get("state", "STATE_UNSPECIFIED"))

    @property
    def deleted(self) -> bool:
        return self.state == "DELETED"

    @property
    def disabled(self) -> bool:
        return bool(self.doc.get("disabled", False))


def account_resource(project: str, email: str) -> str:
    return f"projects/{project}/serviceAccounts/{email}"


def pool_resource(project: str, pool_id: str) -> str:
    return f"projects/{project}/locations/global/workloadIdentityPools/{pool_id}"


def provider_resource(project: str, pool_id: str, provider_id: str) -> str:
    return f"{pool_resource(project, pool_id)}/providers/{provider_id}"


class IamAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    # -- plain REST ---------------------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request to ``https://iam.googleapis.com/v1/{path}``; Google's error JSON becomes api_core's exception."""
        from google.api_core import exceptions as gexc

        url = f"{self._clients.api_root(IAM_HOST)}/v1/{quote(path, safe='/:@-._~')}"
        response = self._clients.session.request(method, url, json=body, params=params, timeout=60)
        if response.status_code >= 400:
            raise gexc.from_http_response(response)  # type: ignore[no-untyped-call]
        if not response.content:
            return {}
        doc = response.json()
        return doc if isinstance(doc, dict) else {}

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        from google.api_core import exceptions as gexc

        try:
            return self._call("GET", path)
        except gexc.NotFound:
            return None

    def _wait(self, operation: dict[str, Any], what: str) -> dict[str, Any]:
        """Poll a long-running operation until done, backing off; its ``error`` becomes a DeployerError."""
        delay, deadline = 0.2, time.monotonic() + OPERATION_TIMEOUT_S
        while not operation.get("done"):
            if time.monotonic() > deadline:
                raise DeployerError(
                    f"{what} did not finish within {OPERATION_TIMEOUT_S:.0f}s (operation {operation.get('name')})",
                    "run the same command again: it picks up where this one stopped",
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
            operation = self._call("GET", str(operation["name"]))
        error = operation.get("error")
        if error:
            raise DeployerError(f"{what} failed: {error.get('message', error)}")
        response = operation.get("response")
        return dict(response) if isinstance(response, dict) else {}

    # -- service accounts --------------------------------------------------------------------------------------
    def get_service_account(self, project: str, email: str) -> ServiceAccount | None:
        with google_call(f"looking up service account {email}", project=project):
            doc = self._get_or_none(account_resource(project, email))
        if doc is None:
            return None
        return ServiceAccount(str(doc.get("email", email)), str(doc.get("name", "")), bool(doc.get("disabled")))

    def create_service_account(self, project: str, email: str, body: dict[str, Any]) -> ServiceAccount:
        """``body`` is the CreateServiceAccountRequest: ``{accountId, serviceAccount: {displayName, description}}``.

        An account that exists already (409: an earlier, interrupted run made it) is returned as it is.
        """
        from google.api_core import exceptions as gexc

        with google_call(f"creating service account {email}", project=project):
            try:
                doc = self._call("POST", f"projects/{project}/serviceAccounts", body=body)
            except gexc.Conflict:
                doc = self._get_or_none(account_resource(project, email)) or {}
                if not doc:
                    raise
        return ServiceAccount(str(doc.get("email", "")), str(doc.get("name", "")), bool(doc.get("disabled")))

    def get_account_policy(self, project: str, email: str) -> dict[str, Any]:
        with google_call(f"reading the IAM policy of {email}", project=project):
            return self._call(
                "POST",
                f"{account_resource(project, email)}:getIamPolicy",
                params={"options.requestedPolicyVersion": "3"},
            )

    def set_account_policy(self, project: str, email: str, policy: dict[str, Any]) -> dict[str, Any]:
        """Raises PolicyConflict on a stale etag (or a member not visible yet), for the caller's retry loop."""
        action = f"setting the IAM policy of {email}"
        with google_call(action, project=project), policy_conflicts(action):
            return self._call("POST", f"{account_resource(project, email)}:setIamPolicy", body={"policy": policy})

    def test_account_permissions(self, project: str, email: str, permissions: list[str]) -> set[str]:
        with google_call(f"testing permissions on {email}", project=project):
            doc = self._call(
                "POST", f"{account_resource(project, email)}:testIamPermissions", body={"permissions": permissions}
            )
        return {str(p) for p in doc.get("permissions", [])}

    def account_exists(self, project: str, email: str) -> bool:
        """Whether the account exists, asked in a way any caller may: testIamPermissions needs no permission and
        answers 404 only for an account that does not exist (a GET needs iam.serviceAccounts.get)."""
        from google.api_core import exceptions as gexc

        with google_call(f"looking up service account {email}", project=project):
            try:
                self._call(
                    "POST",
                    f"{account_resource(project, email)}:testIamPermissions",
                    body={"permissions": ["iam.serviceAccounts.actAs"]},
                )
            except gexc.NotFound:
                return False
        return True

    # -- Workload Identity Federation ----------------------------------------------------------------------------
    def get_pool(self, project: str, pool_id: str) -> WorkloadIdentityResource | None:
        with google_call(f"looking up workload identity pool {pool_id}", project=project):
            doc = self._get_or_none(pool_resource(project, pool_id))
        return None if doc is None else WorkloadIdentityResource(doc)

    def create_pool(self, project: str, pool_id: str, body: dict[str, Any]) -> WorkloadIdentityResource:
        with google_call(f"creating workload identity pool {pool_id}", project=project):
            operation = self._call(
                "POST",
                f"projects/{project}/locations/global/workloadIdentityPools",
                body=body,
                params={"workloadIdentityPoolId": pool_id},
            )
            self._wait(operation, f"creating workload identity pool {pool_id}")
        return self._must_get(pool_resource(project, pool_id), project)

    def undelete_pool(self, project: str, pool_id: str) -> WorkloadIdentityResource:
        with google_call(f"restoring workload identity pool {pool_id}", project=project):
            operation = self._call("POST", f"{pool_resource(project, pool_id)}:undelete", body={})
            self._wait(operation, f"restoring workload identity pool {pool_id}")
        return self._must_get(pool_resource(project, pool_id), project)

    def enable_pool(self, project: str, pool_id: str) -> WorkloadIdentityResource:
        """Turn a disabled pool back on (PATCH ``disabled`` = false)."""
        name = pool_resource(project, pool_id)
        with google_call(f"enabling workload identity pool {pool_id}", project=project):
            operation = self._call("PATCH", name, body={"disabled": False}, params={"updateMask": "disabled"})
            self._wait(operation, f"enabling workload identity pool {pool_id}")
        return self._must_get(name, project)

    def get_provider(self, project: str, pool_id: str, provider_id: str) -> WorkloadIdentityResource | None:
        with google_call(f"looking up workload identity provider {provider_id}", project=project):
            doc = self._get_or_none(provider_resource(project, pool_id, provider_id))
        return None if doc is None else WorkloadIdentityResource(doc)

    def create_provider(
        self, project: str, pool_id: str, provider_id: str, body: dict[str, Any]
    ) -> WorkloadIdentityResource:
        with google_call(f"creating workload identity provider {provider_id}", project=project):
            operation = self._call(
                "POST",
                f"{pool_resource(project, pool_id)}/providers",
                body=body,
                params={"workloadIdentityPoolProviderId": provider_id},
            )
            self._wait(operation, f"creating workload identity provider {provider_id}")
        return self._must_get(provider_resource(project, pool_id, provider_id), project)

    def undelete_provider(self, project: str, pool_id: str, provider_id: str) -> WorkloadIdentityResource:
        name = provider_resource(project, pool_id, provider_id)
        with google_call(f"restoring workload identity provider {provider_id}", project=project):
            operation = self._call("POST", f"{name}:undelete", body={})
            self._wait(operation, f"restoring workload identity provider {provider_id}")
        return self._must_get(name, project)

    def update_provider(
        self, project: str, pool_id: str, provider_id: str, body: dict[str, Any], fields: list[str]
    ) -> WorkloadIdentityResource:
        name = provider_resource(project, pool_id, provider_id)
        with google_call(f"updating workload identity provider {provider_id}", project=project):
            operation = self._call("PATCH", name, body=body, params={"updateMask": ",".join(fields)})
            self._wait(operation, f"updating workload identity provider {provider_id}")
        return self._must_get(name, project)

    def _must_get(self, path: str, project: str) -> WorkloadIdentityResource:
        doc = self._get_or_none(path)
        if doc is None:
            raise DeployerError(f"{path} is missing right after it was changed", "run the same command again")
        return WorkloadIdentityResource(doc)
