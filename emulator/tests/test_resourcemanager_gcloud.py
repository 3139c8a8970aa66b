"""gcloud as an independent client of the strict world: project IAM policies and enabled APIs.

gcloud carries the caller in the same bearer-token form as the client libraries: its ``auth/access_token_file``
property holds ``emulator:<member>``. Resource Manager and Service Usage are pointed at the emulator with endpoint
overrides, as in test_gcloud_build.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.cloud import resourcemanager_v3, service_usage_v1
from google.iam.v1 import policy_pb2

from deployer_emulator.testing import EmulatorHandle, caller_credentials, gcloud_env

pytestmark = pytest.mark.gcloud

PROJECT = "gcloud-seen"
ALICE = "user:alice@example.com"
BOB = "user:bob@example.com"
CAROL = "user:carol@example.com"
ACCOUNT = "01AB23-45CD67-89EF01"

SCENARIO: dict[str, Any] = {
    "billing_accounts": [{"id": ACCOUNT, "iam": {"roles/billing.admin": [ALICE]}}],
    "projects": [{"id": PROJECT, "billing_account": ACCOUNT, "iam": {"roles/owner": [ALICE]}}],
}


def gcloud(handle: EmulatorHandle, home: Path, member: str, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    token = home / "token"
    token.write_text(f"emulator:{member}")
    env = gcloud_env(
        handle.url, home / "config", ("cloudresourcemanager", "serviceusage"), project=PROJECT, token_file=token
    )
    return subprocess.run(["gcloud", *args], capture_output=True, text=True, env=env, timeout=180, check=False)


def _etag_bytes(text: str) -> bytes:
    """The bytes of an etag as a client printed it: gcloud's apitools may use the URL-safe alphabet, unpadded."""
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))


def test_gcloud_sees_the_policy_and_the_apis_the_client_libraries_set(world: EmulatorHandle, tmp_path: Path) -> None:
    options = {"api_endpoint": world.url}
    projects = resourcemanager_v3.ProjectsClient(
        credentials=caller_credentials(ALICE), transport="rest", client_options=options
    )
    policy = policy_pb2.Policy()
    policy.CopyFrom(projects.get_iam_policy(resource=f"projects/{PROJECT}"))
    policy.bindings.add(role="roles/run.developer", members=[BOB])
    written = projects.set_iam_policy(request={"resource": f"projects/{PROJECT}", "policy": policy})
    usage = service_usage_v1.ServiceUsageClient(
        credentials=caller_credentials(ALICE), transport="rest", client_options=options
    )
    wanted = ["run.googleapis.com", "artifactregistry.googleapis.com", "cloudbuild.googleapis.com"]
    usage.batch_enable_services(request={"parent": f"projects/{PROJECT}", "service_ids": wanted}).result(timeout=30)
    listed = usage.list_services(request={"parent": f"projects/{PROJECT}", "filter": "state:ENABLED"})
    enabled_by_client = sorted(s.config.name for s in listed)

    # Enabling Compute-backed APIs in a project outside an organization made its default account an editor.
    current = projects.get_iam_policy(resource=f"projects/{PROJECT}")
    assert current.etag != written.etag
    number = world.state()["resourcemanager.projects"][PROJECT]["name"].split("/")[1]
    roles = {b.role: list(b.members) for b in current.bindings}
    assert roles == {
        "roles/owner": [ALICE],
        "roles/run.developer": [BOB],
        "roles/editor": [f"serviceAccount:{number}-compute@developer.gserviceaccount.com"],
    }

    shown = gcloud(world, tmp_path / "alice", ALICE, "projects", "get-iam-policy", PROJECT, "--format=json")
    assert shown.returncode == 0, shown.stderr
    seen = json.loads(shown.stdout)
    assert _etag_bytes(seen["etag"]) == current.etag
    assert {b["role"]: b["members"] for b in seen["bindings"]} == roles

    services = gcloud(world, tmp_path / "alice", ALICE, "services", "list", "--enabled", "--format=json")
    assert services.returncode == 0, services.stderr
    assert sorted(s["config"]["name"] for s in json.loads(services.stdout)) == enabled_by_client
    assert set(wanted) <= set(enabled_by_client)


def test_gcloud_is_refused_like_the_client_libraries(world: EmulatorHandle, tmp_path: Path) -> None:
    denied = gcloud(world, tmp_path / "carol", CAROL, "projects", "get-iam-policy", PROJECT, "--format=json")
    assert denied.returncode != 0
    assert "resourcemanager.projects.getIamPolicy" in denied.stderr
    assert denied.stdout == ""
