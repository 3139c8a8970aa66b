"""What the IAM tests share: the strict world's project, sessions as a caller, waiting for operations."""

from __future__ import annotations

import time
from typing import Any

from google.auth.transport.requests import AuthorizedSession

from deployer_emulator.testing import EmulatorHandle, caller_credentials

ALICE = "user:alice@example.com"


PROJECT = "iam-proj"


SCENARIO: dict[str, Any] = {
    "projects": [
        {"id": PROJECT, "services": ["iam.googleapis.com"], "iam": {"roles/owner": [ALICE]}},
        {"id": "iam-off", "iam": {"roles/owner": [ALICE]}},
    ]
}


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
