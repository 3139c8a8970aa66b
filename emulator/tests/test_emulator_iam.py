"""IAM v1 in the strict-world emulator: service accounts, their policies, Workload Identity Federation.

IAM v1 is plain REST (no google-cloud library has a REST transport for it), so these tests call it the way an
adapter does: google-auth's AuthorizedSession with credentials that carry the caller.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from google.auth.transport.requests import AuthorizedSession

from deployer_emulator.testing import EmulatorHandle, caller_credentials

ALICE = "user:alice@example.com"
CAROL = "user:carol@example.com"
PROJECT = "iam-proj"
GITHUB = "https://token.actions.githubusercontent.com"

SCENARIO: dict[str, Any] = {
    "projects": [
        {"id": PROJECT, "services": ["iam.googleapis.com"], "iam": {"roles/owner": [ALICE]}},
        {"id": "iam-off", "iam": {"roles/owner": [ALICE]}},
    ]
}


@pytest.fixture(scope="module")
def world(strict_emulator: Callable[[dict[str, Any]], EmulatorHandle]) -> EmulatorHandle:
    return strict_emulator(SCENARIO)


@pytest.fixture(scope="module")
def number(world: EmulatorHandle) -> str:
    return str(world.state()["resourcemanager.projects"][PROJECT]["name"].split("/")[1])


def session(member: str = ALICE) -> AuthorizedSession:
    return AuthorizedSession(caller_credentials(member))  # type: ignore[no-untyped-call]


def create_account(world: EmulatorHandle, account_id: str, member: str = ALICE) -> Any:
    return session(member).post(
        f"{world.url}/v1/projects/{PROJECT}/serviceAccounts",
        json={"accountId": account_id, "serviceAccount": {"displayName": "Deploy account"}},
        timeout=10,
    )


def wait(world: EmulatorHandle, operation: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while not operation.get("done"):
        assert time.monotonic() < deadline, operation
        time.sleep(0.05)
        operation = session().get(f"{world.url}/v1/{operation['name']}", timeout=10).json()
    return operation


def pools_url(world: EmulatorHandle) -> str:
    return f"{world.url}/v1/projects/{PROJECT}/locations/global/workloadIdentityPools"


def test_service_account_lifecycle(world: EmulatorHandle) -> None:
    created = create_account(world, "deployer-run")
    assert created.status_code == 200, created.text
    account = created.json()
    email = f"deployer-run@{PROJECT}.iam.gserviceaccount.com"
    assert account["email"] == email
    assert account["name"] == f"projects/{PROJECT}/serviceAccounts/{email}"
    assert account["projectId"] == PROJECT
    assert account["uniqueId"].isdigit()
    assert len(account["uniqueId"]) == 21
    assert account["displayName"] == "Deploy account"
    base = f"{world.url}/v1/projects"
    for path in (
        f"{PROJECT}/serviceAccounts/{email}",
        f"-/serviceAccounts/{email}",
        f"-/serviceAccounts/{account['uniqueId']}",
    ):
        assert session().get(f"{base}/{path}", timeout=10).json() == account
    listed = session().get(f"{base}/{PROJECT}/serviceAccounts", timeout=10).json()["accounts"]
    assert email in {a["email"] for a in listed}
    again = create_account(world, "deployer-run")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == (
        f"Service account deployer-run already exists within project projects/{PROJECT}."
    )
    assert session().delete(f"{base}/{PROJECT}/serviceAccounts/{email}", timeout=10).status_code == 200
    missing = session().get(f"{base}/{PROJECT}/serviceAccounts/{email}", timeout=10)
    assert missing.status_code == 404


@pytest.mark.parametrize("account_id", ["short", "UpperCase-id", "ends-with-", "9starts-with-digit", "a" * 31])
def test_account_ids_follow_the_rules(world: EmulatorHandle, account_id: str) -> None:
    answer = create_account(world, account_id)
    assert answer.status_code == 400
    assert account_id in answer.json()["error"]["message"]


def test_bodies_are_parsed_strictly(world: EmulatorHandle) -> None:
    answer = session().post(
        f"{world.url}/v1/projects/{PROJECT}/serviceAccounts",
        json={"accountId": "strict-one", "serviceAccount": {"displayname": "typo"}},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "Invalid JSON payload received. Unknown name \"displayname\" at 'service_account': Cannot find field."
    )


def test_creating_an_account_needs_the_permission_and_the_api(world: EmulatorHandle) -> None:
    denied = create_account(world, "carols-account", CAROL)
    assert denied.status_code == 403
    error = denied.json()["error"]
    assert error["message"] == "Permission 'iam.serviceAccounts.create' denied on resource (or it may not exist)."
    assert error["details"][0]["metadata"] == {"permission": "iam.serviceAccounts.create"}
    off = session().post(
        f"{world.url}/v1/projects/iam-off/serviceAccounts", json={"accountId": "some-account"}, timeout=10
    )
    assert off.status_code == 403
    assert off.json()["error"]["details"][0]["reason"] == "SERVICE_DISABLED"
    assert off.json()["error"]["details"][0]["metadata"]["serviceTitle"] == "Identity and Access Management (IAM) API"


def test_account_policy_read_modify_write(world: EmulatorHandle) -> None:
    email = create_account(world, f"sa-{uuid.uuid4().hex[:8]}").json()["email"]
    url = f"{world.url}/v1/projects/{PROJECT}/serviceAccounts/{email}"
    empty = session().post(f"{url}:getIamPolicy", timeout=10).json()
    assert empty == {"version": 1, "etag": "ACAB"}
    policy = {"bindings": [{"role": "roles/iam.serviceAccountUser", "members": [CAROL]}], "etag": empty["etag"]}
    written = session().post(f"{url}:setIamPolicy", json={"policy": policy}, timeout=10)
    assert written.status_code == 200, written.text
    assert written.json()["bindings"] == policy["bindings"]
    stale = session().post(f"{url}:setIamPolicy", json={"policy": policy}, timeout=10)
    assert stale.status_code == 409
    assert stale.json()["error"]["status"] == "ABORTED"
    bad = session().post(
        f"{url}:setIamPolicy", json={"policy": {"bindings": [{"role": "roles/owner", "members": ["bob"]}]}}, timeout=10
    )
    assert bad.status_code == 400
    held = session(CAROL).post(
        f"{url}:testIamPermissions",
        json={"permissions": ["iam.serviceAccounts.actAs", "iam.serviceAccounts.getAccessToken"]},
        timeout=10,
    )
    assert held.json() == {"permissions": ["iam.serviceAccounts.actAs"]}


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


def test_a_principal_set_must_name_an_existing_pool_by_project_number(world: EmulatorHandle, number: str) -> None:
    pool_id = f"wi-{uuid.uuid4().hex[:8]}"
    wait(
        world, session().post(pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={}, timeout=10).json()
    )
    email = create_account(world, f"gh-{uuid.uuid4().hex[:8]}").json()["email"]
    url = f"{world.url}/v1/projects/{PROJECT}/serviceAccounts/{email}:setIamPolicy"

    def grant(project: str) -> Any:
        member = (
            f"principalSet://iam.googleapis.com/projects/{project}/locations/global/workloadIdentityPools/"
            f"{pool_id}/attribute.repository/octo/app"
        )
        policy = {"bindings": [{"role": "roles/iam.workloadIdentityUser", "members": [member]}]}
        return session().post(url, json={"policy": policy}, timeout=10)

    by_id = grant(PROJECT)
    assert by_id.status_code == 400
    assert by_id.json()["error"]["message"].startswith(
        f"Identity Pool does not exist (projects/{PROJECT}/locations/global/workloadIdentityPools/{pool_id})."
    )
    assert grant(number).status_code == 200


def test_operations_of_pools_are_read_at_their_own_path(world: EmulatorHandle) -> None:
    pool_id = f"op-{uuid.uuid4().hex[:8]}"
    created = session().post(pools_url(world), params={"workloadIdentityPoolId": pool_id}, json={}, timeout=10)
    operation = wait(world, created.json())
    relative = operation["name"].split("/workloadIdentityPools/", 1)[1]
    # The same operation, addressed with the project id instead of its number.
    again = session().get(f"{pools_url(world)}/{relative}", timeout=10).json()
    assert again == operation
