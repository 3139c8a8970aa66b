"""Workload Identity pools and providers (iam/workload_identity.py): deletion, ids, GitHub conditions, operations."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from iam_support import pools_url, session, wait

from deployer_emulator.testing import EmulatorHandle

GITHUB = "https://token.actions.githubusercontent.com"


def test_pool_create_delete_reserves_the_id_and_undelete_restores(world: EmulatorHandle, number: str) -> None:
    pool_id = f"gh-{uuid.uuid4().hex[:8]}"
    created = session().post(
        pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={"displayName": "GitHub"}, timeout=10
    )
    assert created.status_code == 200, created.text
    operation = wait(world, created.json())
    name = f"projects/{number}/locations/global/workloadIdentityPools/{pool_id}"
    assert operation["name"].startswith(f"{name}/operations/")
    assert "response" not in operation
    assert "error" not in operation
    pool = session().get(f"{pools_url(world)}/{pool_id}", timeout=10).json()
    assert (pool["name"], pool["state"], pool["displayName"]) == (name, "ACTIVE", "GitHub")

    wait(world, session().delete(f"{pools_url(world)}/{pool_id}", timeout=10).json())
    deleted = session().get(f"{pools_url(world)}/{pool_id}", timeout=10).json()
    assert deleted["state"] == "DELETED"
    assert "expireTime" in deleted
    listed = session().get(pools_url(world), timeout=10).json().get("workloadIdentityPools", [])
    assert name not in {p["name"] for p in listed}
    with_deleted = session().get(pools_url(world), params={"showDeleted": "true"}, timeout=10).json()
    assert name in {p["name"] for p in with_deleted["workloadIdentityPools"]}
    recreate = session().post(pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={}, timeout=10)
    assert recreate.status_code == 409
    assert recreate.json()["error"]["message"] == "Requested entity already exists"

    wait(world, session().post(f"{pools_url(world)}/{pool_id}:undelete", json={}, timeout=10).json())
    restored = session().get(f"{pools_url(world)}/{pool_id}", timeout=10).json()
    assert restored["state"] == "ACTIVE"
    assert "expireTime" not in restored


@pytest.mark.parametrize("pool_id", ["abc", "gcp-reserved", "Upper-case", "x" * 33, "under_score"])
def test_pool_ids_follow_the_rules(world: EmulatorHandle, pool_id: str) -> None:
    answer = session().post(pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={}, timeout=10)
    assert answer.status_code == 400
    assert pool_id in answer.json()["error"]["message"]


def _github_provider(condition: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": "GitHub Actions",
        "attributeMapping": {
            "google.subject": "assertion.sub",
            "attribute.repository": "assertion.repository",
            "attribute.repository_id": "assertion.repository_id",
        },
        "oidc": {"issuerUri": GITHUB},
    }
    if condition is not None:
        body["attributeCondition"] = condition
    return body


def test_a_github_provider_needs_an_attribute_condition(world: EmulatorHandle, number: str) -> None:
    pool_id = f"ci-{uuid.uuid4().hex[:8]}"
    wait(
        world, session().post(pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={}, timeout=10).json()
    )
    providers = f"{pools_url(world)}/{pool_id}/providers"
    refused = session().post(
        providers, params={"workloadIdentityPoolProviderId": "github"}, json=_github_provider(None), timeout=10
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        "The attribute condition must reference one of the provider's claims. For more information, see "
        "https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines#conditions"
    )
    no_subject = _github_provider("assertion.repository_id == '42'")
    del no_subject["attributeMapping"]["google.subject"]
    assert (
        session()
        .post(providers, params={"workloadIdentityPoolProviderId": "github"}, json=no_subject, timeout=10)
        .status_code
        == 400
    )
    created = session().post(
        providers,
        params={"workloadIdentityPoolProviderId": "github"},
        json=_github_provider("assertion.repository_id == '42'"),
        timeout=10,
    )
    assert created.status_code == 200, created.text
    wait(world, created.json())
    provider = session().get(f"{providers}/github", timeout=10).json()
    assert provider["name"] == f"projects/{number}/locations/global/workloadIdentityPools/{pool_id}/providers/github"
    assert provider["attributeCondition"] == "assertion.repository_id == '42'"
    assert provider["state"] == "ACTIVE"


def test_operations_of_pools_are_read_at_their_own_path(world: EmulatorHandle) -> None:
    pool_id = f"op-{uuid.uuid4().hex[:8]}"
    created = session().post(pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={}, timeout=10)
    operation = wait(world, created.json())
    relative = operation["name"].split("/workloadIdentityPools/", 1)[1]
    # The same operation, addressed with the project id instead of its number.
    again = session().get(f"{pools_url(world)}/{relative}", timeout=10).json()
    assert again == operation


@pytest.mark.parametrize(
    "condition",
    ["assertion.repository_id == ", "assertion.repository_id = '42'", "assertion.ref.bogus('x')", "(assertion.x"],
)
def test_an_attribute_condition_that_is_not_cel_is_refused(world: EmulatorHandle, condition: str) -> None:
    pool_id = f"ci-{uuid.uuid4().hex[:8]}"
    wait(
        world, session().post(pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={}, timeout=10).json()
    )
    refused = session().post(
        f"{pools_url(world)}/{pool_id}/providers",
        params={"workloadIdentityPoolProviderId": "github"},
        json=_github_provider(condition),
        timeout=10,
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("The attribute condition is not a valid CEL expression")


def test_the_condition_deployer_writes_admits_only_that_repository_and_branch() -> None:
    from deployer_emulator.iam import cel

    condition = (
        "assertion.repository_id == '42' && assertion.repository_owner_id == '7' && assertion.ref == 'refs/heads/main'"
    )
    claims = {"repository_id": "42", "repository_owner_id": "7", "ref": "refs/heads/main", "repository": "o/r"}
    assert cel.holds(condition, {"assertion": claims})
    assert not cel.holds(condition, {"assertion": {**claims, "repository_id": "43"}})  # same name, re-created
    assert not cel.holds(condition, {"assertion": {**claims, "ref": "refs/heads/feature"}})
    assert not cel.holds(condition, {"assertion": {"repository": "o/r"}})  # a missing claim is false, not an error
