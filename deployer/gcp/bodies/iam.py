"""IAM v1: service accounts, Workload Identity Federation for GitHub Actions, and IAM policy bindings.

Paths and fields: https://cloud.google.com/iam/docs/reference/rest. The policy edits serve every API with an IAM
policy (projects, service accounts, Cloud Run services): they all speak the same ``Policy``.
"""

from __future__ import annotations

from typing import Any

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


def github_ref_condition(ref: str) -> str:
    """``ref`` as given after ``@``: ``environment:NAME`` binds a deployment environment, ``refs/...`` a ref as it
    is, anything else a branch (``main`` is ``refs/heads/main``)."""
    if ref.startswith("environment:"):
        return f"assertion.environment == '{ref.removeprefix('environment:')}'"
    full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    return f"assertion.ref == '{full}'"


def github_condition(repository_id: str, owner_id: str, ref: str | None = None) -> str:
    """The attribute condition that admits only tokens of one repository, by its immutable ids (a deleted and
    re-created repository of the same name has new ones), and of one branch or environment when given. Google
    requires a condition for GitHub's shared issuer."""
    condition = f"assertion.repository_id == '{repository_id}' && assertion.repository_owner_id == '{owner_id}'"
    return condition + (f" && {github_ref_condition(ref)}" if ref else "")


def github_provider_body(repository: str, repository_id: str, owner_id: str, ref: str | None = None) -> dict[str, Any]:
    return {
        "displayName": "GitHub",
        "description": f"GitHub Actions of {repository} (deployer)",
        "attributeMapping": dict(GITHUB_ATTRIBUTE_MAPPING),
        "attributeCondition": github_condition(repository_id, owner_id, ref),
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


def github_principal_set(project_number: str, pool_id: str, repository_id: str) -> str:
    """Every workflow run of the repository with this id that the provider admits, as an IAM member."""
    return (
        f"principalSet://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/"
        f"{pool_id}/attribute.repository_id/{repository_id}"
    )


def add_bindings(
    policy: dict[str, Any], grants: list[tuple[str, str]], removals: list[tuple[str, str]] | None = None
) -> dict[str, Any] | None:
    """``policy`` with each (role, member) of ``grants`` granted by an unconditional binding and each of
    ``removals`` taken out of the unconditional bindings; None when there is nothing to change.

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
    for role, member in removals or []:
        for binding in bindings:
            if binding.get("role") == role and not binding.get("condition") and member in binding.get("members", []):
                binding["members"] = [m for m in binding["members"] if m != member]
                changed = True
    bindings = [b for b in bindings if b.get("members")]
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


def unwanted_grants(policy: dict[str, Any], managed: set[str], desired: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The unconditional (role, member) pairs of ``policy`` whose member is one deployer manages (its own service
    accounts, its GitHub principals) but that ``desired`` does not hold: what a re-run of bootstrap removes, saying
    so in its plan. People's grants are never touched."""
    wanted = set(desired)
    return [
        (str(binding.get("role")), member)
        for binding in policy.get("bindings", [])
        if not binding.get("condition")
        for member in binding.get("members", [])
        if member in managed and (binding.get("role"), member) not in wanted
    ]
