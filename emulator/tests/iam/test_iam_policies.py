"""IAM policies (iam/policies.py): a principalSet member must name an existing pool by project number."""

from __future__ import annotations

import uuid
from typing import Any

from iam_support import PROJECT, create_account, pools_url, session, wait

from deployer_emulator.testing import EmulatorHandle


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
