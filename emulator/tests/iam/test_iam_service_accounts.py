"""Service accounts (iam/service_accounts.py): lifecycle, id rules, strict bodies, permissions, their policies."""

from __future__ import annotations

import uuid

import pytest
from iam_support import PROJECT, create_account, session

from deployer_emulator.testing import EmulatorHandle

CAROL = "user:carol@example.com"


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
