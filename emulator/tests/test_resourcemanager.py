"""Resource Manager v3 in the strict-world emulator, through the unmodified google-cloud-resource-manager client."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import resourcemanager_v3
from google.iam.v1 import policy_pb2

from deployer_emulator.testing import EmulatorHandle, error_json, rest_client

ORG = "123456789012"
ALICE = "user:alice@example.com"
DAVE = "user:dave@example.com"
CAROL = "user:carol@example.com"
BOB = "user:bob@example.com"

SCENARIO: dict[str, Any] = {
    "organizations": [{"id": ORG, "iam": {"roles/resourcemanager.projectCreator": [ALICE, DAVE]}}],
    "projects": [
        {
            "id": "rm-seeded",
            "parent": f"organizations/{ORG}",
            "iam": {"roles/owner": [ALICE], "roles/viewer": [BOB]},
            "service_accounts": [{"id": "deploy-sa"}],
        }
    ],
}


def projects(handle: EmulatorHandle, member: str = ALICE) -> resourcemanager_v3.ProjectsClient:
    return rest_client(resourcemanager_v3.ProjectsClient, handle, member)


def new_id() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


def create(handle: EmulatorHandle, project_id: str, member: str = ALICE) -> resourcemanager_v3.Project:
    operation = projects(handle, member).create_project(
        project=resourcemanager_v3.Project(project_id=project_id, parent=f"organizations/{ORG}", display_name="Demo")
    )
    result: resourcemanager_v3.Project = operation.result(timeout=30)
    return result


def test_created_project_is_active_and_owned_by_its_creator(world: EmulatorHandle) -> None:
    project_id = new_id()
    world.mark()
    project = create(world, project_id)

    assert project.project_id == project_id
    assert project.state == resourcemanager_v3.Project.State.ACTIVE
    assert project.parent == f"organizations/{ORG}"
    assert project.name.startswith("projects/")
    assert project.name.split("/")[1].isdigit()
    by_number = projects(world).get_project(name=project.name)
    assert by_number.project_id == project_id
    policy = projects(world).get_iam_policy(resource=f"projects/{project_id}")
    assert [(b.role, list(b.members)) for b in policy.bindings] == [("roles/owner", [ALICE])]
    created = [r for r in world.requests() if r["method"] == "POST" and r["path"] == "/v3/projects"]
    assert [(r["status"], r["caller"]) for r in created] == [(200, ALICE)]
    operation = world.as_caller(ALICE).get(f"{world.url}/v3/operations/{_last_operation(world)}", timeout=10).json()
    assert operation["done"] is True
    assert operation["metadata"]["@type"] == "type.googleapis.com/google.cloud.resourcemanager.v3.CreateProjectMetadata"
    assert operation["response"]["@type"] == "type.googleapis.com/google.cloud.resourcemanager.v3.Project"


def _last_operation(handle: EmulatorHandle) -> str:
    for request in reversed(handle.requests()):
        if request["path"].startswith("/v3/operations/"):
            return str(request["path"][len("/v3/operations/") :])
    raise AssertionError("the client never polled the create operation")


def test_creating_under_an_organization_needs_project_creator(world: EmulatorHandle) -> None:
    project_id = new_id()
    with pytest.raises(gexc.Forbidden) as raised:
        create(world, project_id, CAROL)
    error = error_json(raised.value)
    assert error["message"] == (
        f"Permission 'resourcemanager.projects.create' denied on resource "
        f"'//cloudresourcemanager.googleapis.com/organizations/{ORG}' (or it may not exist)."
    )
    assert error["details"][0]["reason"] == "IAM_PERMISSION_DENIED"
    assert error["details"][0]["metadata"] == {"permission": "resourcemanager.projects.create"}
    assert project_id not in world.state().get("resourcemanager.projects", {})


@pytest.mark.parametrize(
    "project_id",
    ["short", "Upper-case-id", "ends-with-hyphen-", "1starts-with-digit", "has_underscore", "my-google-proj", "a" * 31],
)
def test_project_ids_follow_googles_rules(world: EmulatorHandle, project_id: str) -> None:
    with pytest.raises(gexc.BadRequest) as raised:
        create(world, project_id)
    error = error_json(raised.value)
    assert project_id in error["message"]
    assert error["details"][0]["fieldViolations"][0]["field"] == "project.project_id"
    assert project_id not in world.state().get("resourcemanager.projects", {})


def test_an_existing_id_is_409_even_for_another_owner(world: EmulatorHandle) -> None:
    project_id = new_id()
    create(world, project_id, ALICE)
    with pytest.raises(gexc.Conflict) as raised:
        create(world, project_id, DAVE)
    assert error_json(raised.value)["status"] == "ALREADY_EXISTS"
    assert error_json(raised.value)["message"] == "Requested entity already exists"
    policy = projects(world).get_iam_policy(resource=f"projects/{project_id}")
    assert [list(b.members) for b in policy.bindings] == [[ALICE]]


def test_a_foreign_project_and_a_missing_one_answer_the_same_403(world: EmulatorHandle) -> None:
    messages = []
    for project_id in ("rm-seeded", "rm-never-created"):
        with pytest.raises(gexc.Forbidden) as raised:
            projects(world, CAROL).get_project(name=f"projects/{project_id}")
        messages.append(error_json(raised.value)["message"])
    assert messages == [
        f"Permission 'resourcemanager.projects.get' denied on resource "
        f"'//cloudresourcemanager.googleapis.com/projects/{p}' (or it may not exist)."
        for p in ("rm-seeded", "rm-never-created")
    ]
    assert projects(world, BOB).get_project(name="projects/rm-seeded").project_id == "rm-seeded"


def test_search_shows_only_the_projects_the_caller_may_see(world: EmulatorHandle) -> None:
    found = list(projects(world, BOB).search_projects(query="id:rm-seeded"))
    assert [p.project_id for p in found] == ["rm-seeded"]
    assert list(projects(world, CAROL).search_projects(query="id:rm-seeded")) == []
    mine = {p.project_id for p in projects(world, BOB).search_projects(query=f"parent:organizations/{ORG}")}
    assert mine == {"rm-seeded"}


def test_a_stale_policy_etag_is_409_aborted_and_changes_nothing(world: EmulatorHandle) -> None:
    project_id = new_id()
    create(world, project_id)
    client = projects(world)
    read = client.get_iam_policy(resource=f"projects/{project_id}")
    first = policy_pb2.Policy()
    first.CopyFrom(read)
    first.bindings.add(role="roles/viewer", members=[BOB])
    written = client.set_iam_policy(request={"resource": f"projects/{project_id}", "policy": first})
    assert written.etag != read.etag
    second = policy_pb2.Policy()
    second.CopyFrom(read)  # the etag of the first read: someone changed the policy since
    second.bindings.add(role="roles/editor", members=[CAROL])
    with pytest.raises(gexc.Conflict) as raised:
        client.set_iam_policy(request={"resource": f"projects/{project_id}", "policy": second})
    error = error_json(raised.value)
    assert error["status"] == "ABORTED"
    assert error["message"] == (
        "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
    )
    now = client.get_iam_policy(resource=f"projects/{project_id}")
    assert {b.role: list(b.members) for b in now.bindings} == {"roles/owner": [ALICE], "roles/viewer": [BOB]}
    raw = world.as_caller(ALICE).post(f"{world.url}/v3/projects/{project_id}:getIamPolicy", json={}, timeout=10)
    assert base64.b64decode(raw.json()["etag"]) == now.etag  # bytes on the wire, as base64


def test_a_policy_naming_a_missing_service_account_is_refused(world: EmulatorHandle) -> None:
    client = projects(world)
    policy = client.get_iam_policy(resource="projects/rm-seeded")
    policy.bindings.add(role="roles/run.invoker", members=["serviceAccount:nobody@rm-seeded.iam.gserviceaccount.com"])
    with pytest.raises(gexc.BadRequest) as raised:
        client.set_iam_policy(request={"resource": "projects/rm-seeded", "policy": policy})
    assert error_json(raised.value)["message"] == (
        "Service account nobody@rm-seeded.iam.gserviceaccount.com does not exist."
    )
    policy.bindings[-1].members[:] = ["serviceAccount:deploy-sa@rm-seeded.iam.gserviceaccount.com"]
    written = client.set_iam_policy(request={"resource": "projects/rm-seeded", "policy": policy})
    assert "roles/run.invoker" in {b.role for b in written.bindings}


def test_test_iam_permissions_answers_the_held_subset(world: EmulatorHandle) -> None:
    asked = ["resourcemanager.projects.get", "resourcemanager.projects.setIamPolicy", "run.services.create"]
    owner = projects(world).test_iam_permissions(resource="projects/rm-seeded", permissions=asked)
    viewer = projects(world, BOB).test_iam_permissions(resource="projects/rm-seeded", permissions=asked)
    stranger = projects(world, CAROL).test_iam_permissions(resource="projects/rm-seeded", permissions=asked)
    assert list(owner.permissions) == asked
    assert list(viewer.permissions) == ["resourcemanager.projects.get"]
    assert list(stranger.permissions) == []


def test_delete_requests_deletion_and_undelete_restores(world: EmulatorHandle) -> None:
    project_id = new_id()
    create(world, project_id)
    client = projects(world)
    deleted = client.delete_project(name=f"projects/{project_id}").result(timeout=30)
    assert deleted.state == resourcemanager_v3.Project.State.DELETE_REQUESTED
    assert client.get_project(name=f"projects/{project_id}").state == resourcemanager_v3.Project.State.DELETE_REQUESTED
    # A project pending deletion serves nothing else.
    listed = world.as_caller(ALICE).get(f"{world.url}/v1/projects/{project_id}/serviceAccounts", timeout=10)
    assert listed.status_code == 403
    restored = client.undelete_project(name=f"projects/{project_id}").result(timeout=30)
    assert restored.state == resourcemanager_v3.Project.State.ACTIVE


def test_gcloud_reads_the_v1_forms(world: EmulatorHandle) -> None:
    session = world.as_caller(ALICE)
    project = session.get(f"{world.url}/v1/projects/rm-seeded", timeout=10).json()
    assert project["projectId"] == "rm-seeded"
    assert project["lifecycleState"] == "ACTIVE"
    assert project["parent"] == {"type": "organization", "id": ORG}
    policy = session.post(f"{world.url}/v1/projects/rm-seeded:getIamPolicy", json={}, timeout=10).json()
    v3 = projects(world).get_iam_policy(resource="projects/rm-seeded")
    assert base64.b64decode(policy["etag"]) == v3.etag
