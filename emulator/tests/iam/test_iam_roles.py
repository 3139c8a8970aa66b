"""The role table is Google's data: every role the file lists grants exactly its permissions, a role Google does
not define is refused at setIamPolicy in Google's words, and a custom role grants exactly what it includes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from iam_support import PROJECT, session

from deployer_emulator.iam.roles import predefined_roles, role_data, role_grants
from deployer_emulator.testing import EmulatorHandle

DATA = Path(__file__).resolve().parents[2] / "deployer_emulator" / "data" / "gcp-roles.json"


def test_the_table_is_the_data_file_with_its_attribution() -> None:
    raw = json.loads(DATA.read_text())
    assert "iann0036/iam-dataset" in raw["_about"]["source"]
    assert "MIT" in raw["_about"]["source"]
    assert role_data() == raw
    for name, doc in raw["roles"].items():
        assert set(doc["permissions"]) <= predefined_roles()[name]
    # Firewall rules are securityAdmin's, not instanceAdmin.v1's (the gap a VM with ports fell into).
    assert role_grants("roles/compute.securityAdmin", "compute.firewalls.create")
    assert not role_grants("roles/compute.instanceAdmin.v1", "compute.firewalls.create")
    assert not role_grants("roles/editor", "resourcemanager.projects.setIamPolicy")
    assert not role_grants("roles/run.admim", "run.services.create")  # a misspelt role grants nothing


def _set_policy(world: EmulatorHandle, role: str, member: str = "user:bob@example.com") -> tuple[int, Any]:
    url = f"{world.url}/v3/projects/{PROJECT}"
    policy = session().post(f"{url}:getIamPolicy", json={}, timeout=10).json()
    policy.setdefault("bindings", []).append({"role": role, "members": [member]})
    response = session().post(f"{url}:setIamPolicy", json={"policy": policy}, timeout=10)
    return response.status_code, response.json()


@pytest.mark.parametrize("role", ["roles/run.admim", "roles/compute.browser", "roles/x"])
def test_a_role_google_does_not_define_is_refused(world: EmulatorHandle, role: str) -> None:
    status, doc = _set_policy(world, role)
    assert status == 400
    assert doc["error"]["status"] == "INVALID_ARGUMENT"
    assert doc["error"]["message"] == f"Role {role} is not supported for this resource."


def test_a_custom_role_grants_exactly_what_it_includes(world: EmulatorHandle) -> None:
    created = session().post(
        f"{world.url}/v1/projects/{PROJECT}/roles",
        json={"roleId": "deployNoFirewall", "role": {"title": "t", "includedPermissions": ["run.services.create"]}},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    name = created.json()["name"]
    assert name == f"projects/{PROJECT}/roles/deployNoFirewall"
    assert _set_policy(world, name, "user:carol@example.com")[0] == 200
    test = world.as_caller("user:carol@example.com").post(
        f"{world.url}/v3/projects/{PROJECT}:testIamPermissions",
        json={"permissions": ["run.services.create", "run.services.update"]},
        timeout=10,
    )
    assert test.json().get("permissions") == ["run.services.create"]
