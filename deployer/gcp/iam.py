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


GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

# GitHub's OIDC token claims (https://docs.github.com/en/actions/security-for-github-actions/
# security-hardening-your-deployments/about-security-hardening-with-openid-connect#understanding-the-oidc-token).
# The numeric ids are mapped too, so a condition can be tightened to them (a renamed or re-created repository keeps
# its name but not its id).
GITHUB_ATTRIBUTE_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.actor": "assertion.actor",
    "attribute.repository": "assertion.repository",
    "attribute.repository_owner": "assertion.repository_owner",
    "attribute.repository_id": "assertion.repository_id",
    "attribute.repository_owner_id": "assertion.repository_owner_id",
    "attribute.ref": "assertion.ref",
}


def service_account_body(account_id: str, display_name: str, description: str) -> dict[str, Any]:
    """A CreateServiceAccountRequest (accountId 6-30 chars ``[a-z]([-a-z0-9]*[a-z0-9])``)."""
    return {"accountId": account_id, "serviceAccount": {"displayName": display_name, "description": description}}


def pool_body() -> dict[str, Any]:
    # displayName is at most 32 characters.
    return {"displayName": "GitHub Actions (deployer)", "description": "Keyless GitHub Actions deploys by deployer"}


def github_condition(repository: str) -> str:
    """The attribute condition that admits only tokens of ``OWNER/REPO`` (Google requires one for GitHub)."""
    return f"assertion.repository == '{repository}'"


def github_provider_body(repository: str) -> dict[str, Any]:
    return {
        "displayName": "GitHub",
        "description": f"GitHub Actions of {repository} (deployer)",
        "attributeMapping": dict(GITHUB_ATTRIBUTE_MAPPING),
        "attributeCondition": github_condition(repository),
        "oidc": {"issuerUri": GITHUB_ISSUER},
    }


def provider_differences(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """The update-mask fields of a provider that differ from what deployer wants (attribute mapping, condition,
    issuer); display name and description are left as they are."""
    changed = []
    if dict(current.get("attributeMapping") or {}) != desired["attributeMapping"]:
        changed.append("attributeMapping")
    if (current.get("attributeCondition") or "") != desired["attributeCondition"]:
        changed.append("attributeCondition")
    if (current.get("oidc") or {}).get("issuerUri") != desired["oidc"]["issuerUri"]:
        changed.append("oidc")
    return changed


def github_principal_set(project_number: str, pool_id: str, repository: str) -> str:
    """Every workflow run of ``OWNER/REPO`` authenticated through the pool, as an IAM member."""
    return (
        f"principalSet://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/"
        f"{pool_id}/attribute.repository/{repository}"
    )


def add_bindings(policy: dict[str, Any], grants: list[tuple[str, str]]) -> dict[str, Any] | None:
    """``policy`` with each (role, member) granted by an unconditional binding; None when all already are.

    Bindings with a condition are left alone and do not count: a conditional grant may not apply. Everything else
    in the policy (other bindings, audit configs, the etag that guards the write, the version) is kept.
    """
    bindings = [dict(binding) for binding in policy.get("bindings", [])]
    changed = False
    for role, member in grants:
        binding = next((b for b in bindings if b.get("role") == role and not b.get("condition")), None)
        if binding is None:
            bindings.append({"role": role, "members": [member]})
            changed = True
        elif member not in binding.get("members", []):
            binding["members"] = [*binding.get("members", []), member]
            changed = True
    if not changed:
        return None
    updated = {key: value for key, value in policy.items() if key != "bindings"}
    updated["bindings"] = bindings
    return updated


def missing_grants(policy: dict[str, Any], grants: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (role, member) pairs of ``grants`` that no unconditional binding of ``policy`` holds."""
    held = {
        (binding.get("role"), member)
        for binding in policy.get("bindings", [])
        if not binding.get("condition")
        for member in binding.get("members", [])
    }
    return [grant for grant in dict.fromkeys(grants) if grant not in held]


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
