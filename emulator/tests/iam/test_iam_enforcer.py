"""The enforcer (iam/enforcer.py, iam/denials.py): callers, permissions, APIs, builds' accounts, role tables."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth.transport.requests import AuthorizedSession
from google.cloud import artifactregistry_v1, billing_v1, resourcemanager_v3, run_v2, storage
from google.iam.v1 import policy_pb2

from deployer_emulator.testing import EmulatorHandle, caller_credentials, error_json

ALICE = "user:alice@example.com"


ORG = "987654321098"


ACCOUNT = "0E0E0E-0E0E0E-0E0E0E"


PROJECT = "enf-proj"


ROLES_PROJECT = "enf-roles"


LOCATION = "us-central1"


DEV = "user:dev@example.com"


READER = "user:reader@example.com"


WRITER = "user:writer@example.com"


BUILDER = "user:builder@example.com"


RUNTIME_SA = f"app-runtime@{PROJECT}.iam.gserviceaccount.com"


BUILD_SA = f"app-builder@{PROJECT}.iam.gserviceaccount.com"


# (role, permission, held): each role is granted on ROLES_PROJECT to a member of its own.
PROJECT_ROLE_TABLE = [
    ("roles/owner", "resourcemanager.projects.setIamPolicy", True),
    ("roles/owner", "iam.serviceAccounts.actAs", True),
    ("roles/editor", "run.services.create", True),
    ("roles/editor", "iam.serviceAccounts.actAs", True),
    ("roles/editor", "serviceusage.services.enable", True),
    ("roles/editor", "resourcemanager.projects.setIamPolicy", False),
    ("roles/editor", "run.services.setIamPolicy", False),
    ("roles/viewer", "run.services.get", True),
    ("roles/viewer", "resourcemanager.projects.getIamPolicy", True),
    ("roles/viewer", "run.services.create", False),
    ("roles/viewer", "storage.objects.create", False),
    ("roles/run.admin", "run.services.setIamPolicy", True),
    ("roles/run.admin", "run.jobs.create", True),
    ("roles/run.developer", "run.services.create", True),
    ("roles/run.developer", "run.services.update", True),
    ("roles/run.developer", "run.services.setIamPolicy", False),
    ("roles/run.developer", "iam.serviceAccounts.actAs", False),
    ("roles/run.invoker", "run.routes.invoke", True),
    ("roles/run.invoker", "run.services.get", False),
    ("roles/run.viewer", "run.services.list", True),
    ("roles/run.viewer", "run.services.update", False),
    ("roles/cloudbuild.builds.editor", "cloudbuild.builds.create", True),
    ("roles/cloudbuild.builds.editor", "storage.objects.create", False),
    ("roles/cloudbuild.builds.viewer", "cloudbuild.builds.get", True),
    ("roles/cloudbuild.builds.viewer", "cloudbuild.builds.create", False),
    ("roles/cloudbuild.builds.builder", "artifactregistry.repositories.uploadArtifacts", True),
    ("roles/cloudbuild.builds.builder", "logging.logEntries.create", True),
    ("roles/artifactregistry.admin", "artifactregistry.repositories.create", True),
    ("roles/artifactregistry.repoAdmin", "artifactregistry.repositories.deleteArtifacts", True),
    ("roles/artifactregistry.repoAdmin", "artifactregistry.repositories.create", False),
    ("roles/artifactregistry.writer", "artifactregistry.repositories.uploadArtifacts", True),
    ("roles/artifactregistry.writer", "artifactregistry.repositories.deleteArtifacts", False),
    ("roles/artifactregistry.reader", "artifactregistry.repositories.downloadArtifacts", True),
    ("roles/artifactregistry.reader", "artifactregistry.repositories.uploadArtifacts", False),
    ("roles/storage.admin", "storage.buckets.create", True),
    ("roles/storage.objectAdmin", "storage.objects.delete", True),
    ("roles/storage.objectAdmin", "storage.buckets.create", False),
    ("roles/storage.objectCreator", "storage.objects.create", True),
    ("roles/storage.objectCreator", "storage.objects.get", False),
    ("roles/storage.objectViewer", "storage.objects.get", True),
    ("roles/storage.objectViewer", "storage.objects.create", False),
    ("roles/iam.serviceAccountUser", "iam.serviceAccounts.actAs", True),
    ("roles/iam.serviceAccountUser", "iam.serviceAccounts.create", False),
    ("roles/iam.serviceAccountAdmin", "iam.serviceAccounts.create", True),
    ("roles/iam.serviceAccountAdmin", "iam.serviceAccounts.actAs", False),
    ("roles/iam.workloadIdentityUser", "iam.serviceAccounts.getAccessToken", True),
    ("roles/iam.workloadIdentityUser", "iam.serviceAccounts.actAs", False),
    ("roles/iam.workloadIdentityPoolAdmin", "iam.googleapis.com/workloadIdentityPools.create", True),
    ("roles/iam.workloadIdentityPoolAdmin", "iam.serviceAccounts.create", False),
    ("roles/serviceusage.serviceUsageAdmin", "serviceusage.services.enable", True),
    ("roles/serviceusage.serviceUsageConsumer", "serviceusage.services.use", True),
    ("roles/serviceusage.serviceUsageConsumer", "serviceusage.services.enable", False),
    ("roles/resourcemanager.projectIamAdmin", "resourcemanager.projects.setIamPolicy", True),
    ("roles/resourcemanager.projectIamAdmin", "run.services.get", False),
    ("roles/billing.projectManager", "resourcemanager.projects.createBillingAssignment", True),
    ("roles/logging.logWriter", "logging.logEntries.create", True),
    ("roles/logging.logWriter", "logging.logEntries.list", False),
    ("roles/compute.admin", "compute.firewalls.create", True),
    ("roles/compute.instanceAdmin.v1", "compute.instances.create", True),
    ("roles/compute.instanceAdmin.v1", "compute.subnetworks.use", True),
    ("roles/compute.instanceAdmin.v1", "compute.firewalls.create", False),
    ("roles/compute.networkAdmin", "compute.networks.create", True),
    ("roles/compute.networkAdmin", "compute.firewalls.create", False),
    ("roles/compute.securityAdmin", "compute.firewalls.create", True),
    ("roles/compute.viewer", "compute.instances.get", True),
    ("roles/compute.viewer", "compute.instances.create", False),
]


BILLING_ROLE_TABLE = [
    ("roles/billing.admin", "billing.resourceAssociations.create", True),
    ("roles/billing.admin", "billing.budgets.create", True),
    ("roles/billing.user", "billing.resourceAssociations.create", True),
    ("roles/billing.user", "billing.budgets.create", False),
    ("roles/billing.viewer", "billing.accounts.get", True),
    ("roles/billing.viewer", "billing.resourceAssociations.create", False),
    ("roles/billing.costsManager", "billing.budgets.create", True),
]


def role_member(role: str) -> str:
    return f"user:{role.split('/', 1)[1].replace('.', '-').lower()}@example.com"


SCENARIO: dict[str, Any] = {
    "organizations": [{"id": ORG}],
    "billing_accounts": [
        {
            "id": ACCOUNT,
            "iam": {
                role: [role_member(role)] + ([ALICE] if role == "roles/billing.admin" else [])
                for role, _, _ in BILLING_ROLE_TABLE
            },
        }
    ],
    "projects": [
        {
            "id": PROJECT,
            "parent": f"organizations/{ORG}",
            "billing_account": ACCOUNT,
            "services": [
                "run.googleapis.com",
                "cloudbuild.googleapis.com",
                "artifactregistry.googleapis.com",
                "iam.googleapis.com",
                "logging.googleapis.com",
            ],
            "iam": {
                "roles/owner": [ALICE],
                "roles/run.developer": [DEV],
                "roles/storage.objectViewer": [READER],
                "roles/storage.objectCreator": [WRITER],
                "roles/cloudbuild.builds.editor": [BUILDER],
            },
            "service_accounts": [
                {"id": "app-runtime", "iam": {"roles/iam.serviceAccountUser": [DEV]}},
                {"id": "app-builder"},
            ],
        },
        {"id": "enf-bare", "parent": f"organizations/{ORG}", "iam": {"roles/owner": [ALICE]}},
        {
            "id": ROLES_PROJECT,
            "parent": f"organizations/{ORG}",
            "iam": {role: [role_member(role)] for role, _, _ in PROJECT_ROLE_TABLE},
        },
    ],
}


@pytest.fixture(scope="module")
def world(strict_emulator: Callable[[dict[str, Any]], EmulatorHandle]) -> EmulatorHandle:
    return strict_emulator(SCENARIO)


def number_of(handle: EmulatorHandle, project: str) -> str:
    return str(handle.state()["resourcemanager.projects"][project]["name"].split("/")[1])


def options(handle: EmulatorHandle) -> dict[str, str]:
    return {"api_endpoint": handle.url}


def run_client(handle: EmulatorHandle, member: str) -> run_v2.ServicesClient:
    return run_v2.ServicesClient(
        credentials=caller_credentials(member), transport="rest", client_options=options(handle)
    )


def projects_client(handle: EmulatorHandle, member: str = ALICE) -> resourcemanager_v3.ProjectsClient:
    return resourcemanager_v3.ProjectsClient(
        credentials=caller_credentials(member), transport="rest", client_options=options(handle)
    )


def storage_client(handle: EmulatorHandle, member: str) -> storage.Client:
    return storage.Client(project=PROJECT, credentials=caller_credentials(member), client_options=options(handle))


def grant(handle: EmulatorHandle, project: str, role: str, member: str) -> None:
    """Alice adds a binding with a read-modify-write of the project's policy."""
    client = projects_client(handle)
    policy = policy_pb2.Policy()
    policy.CopyFrom(client.get_iam_policy(resource=f"projects/{project}"))
    policy.bindings.add(role=role, members=[member])
    client.set_iam_policy(request={"resource": f"projects/{project}", "policy": policy})


def service(image: str = "us-docker.pkg.dev/cloudrun/container/hello", account: str = "") -> run_v2.Service:
    template = run_v2.RevisionTemplate(containers=[run_v2.Container(image=image)], service_account=account)
    return run_v2.Service(template=template)


# -- the token form ------------------------------------------------------------------------------------------
def test_the_caller_comes_from_the_bearer_token(world: EmulatorHandle) -> None:
    url = f"{world.url}/v2/projects/{PROJECT}/locations/{LOCATION}/services"
    world.mark()
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"
    assert requests.get(url, headers={"Authorization": f"Bearer emulator:{ALICE}"}, timeout=10).status_code == 200
    opaque = requests.get(url, headers={"Authorization": "Bearer ya29.a-real-looking-token"}, timeout=10)
    assert opaque.status_code == 403
    assert [r["caller"] for r in world.requests()] == ["anonymous", ALICE, "user:developer@example.com"]


# -- permissions ---------------------------------------------------------------------------------------------
def test_a_missing_permission_is_named_and_granting_the_role_lifts_it(world: EmulatorHandle) -> None:
    newcomer = f"user:newcomer-{uuid.uuid4().hex[:6]}@example.com"
    parent = f"projects/{PROJECT}/locations/{LOCATION}"
    with pytest.raises(gexc.Forbidden) as raised:
        list(run_client(world, newcomer).list_services(parent=parent))
    error = error_json(raised.value)
    assert error == {
        "code": 403,
        "message": f"Permission 'run.services.list' denied on resource '{parent}' (or it may not exist).",
        "status": "PERMISSION_DENIED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com",
                "metadata": {"permission": "run.services.list"},
            }
        ],
    }
    grant(world, PROJECT, "roles/run.viewer", newcomer)
    assert isinstance(list(run_client(world, newcomer).list_services(parent=parent)), list)


def test_a_run_developer_deploys_as_an_account_it_may_use_but_cannot_make_services_public(
    world: EmulatorHandle,
) -> None:
    parent = f"projects/{PROJECT}/locations/{LOCATION}"
    created = (
        run_client(world, DEV)
        .create_service(parent=parent, service_id="dev-api", service=service(account=RUNTIME_SA))
        .result(timeout=60)
    )
    assert created.template.service_account == RUNTIME_SA
    name = f"{parent}/services/dev-api"
    policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(role="roles/run.invoker", members=["allUsers"])])
    with pytest.raises(gexc.Forbidden) as raised:
        run_client(world, DEV).set_iam_policy(request={"resource": name, "policy": policy})
    assert error_json(raised.value)["details"][0]["metadata"] == {"permission": "run.services.setIamPolicy"}
    run_client(world, ALICE).set_iam_policy(request={"resource": name, "policy": policy})
    # Without a named account the revision runs as the Compute Engine default account, which dev may not use.
    with pytest.raises(gexc.Forbidden) as default_account:
        run_client(world, DEV).create_service(parent=parent, service_id="dev-default", service=service())
    default = f"{number_of(world, PROJECT)}-compute@developer.gserviceaccount.com"
    assert error_json(default_account.value)["message"] == (
        f"Permission 'iam.serviceaccounts.actAs' denied on service account {default} (or it may not exist)."
    )
    assert "dev-default" not in json.dumps(world.state().get("run.services", {}))


def test_an_object_viewer_reads_but_cannot_upload(world: EmulatorHandle) -> None:
    bucket_name = f"enf-{uuid.uuid4().hex[:10]}"
    bucket = storage_client(world, ALICE).create_bucket(bucket_name)
    bucket.blob("model.txt").upload_from_string(b"weights")
    reader_bucket = storage_client(world, READER).bucket(bucket_name)
    assert reader_bucket.blob("model.txt").download_as_bytes() == b"weights"
    with pytest.raises(gexc.Forbidden) as raised:
        reader_bucket.blob("new.txt").upload_from_string(b"nope")
    assert (
        "reader@example.com does not have storage.objects.create access to the Google Cloud Storage object. "
        "Permission 'storage.objects.create' denied on resource (or it may not exist)."
    ) in raised.value.message
    writer_bucket = storage_client(world, WRITER).bucket(bucket_name)
    writer_bucket.blob("upload.txt").upload_from_string(b"data")
    with pytest.raises(gexc.Forbidden):
        writer_bucket.blob("model.txt").download_as_bytes()
    assert {b.name for b in storage_client(world, ALICE).list_blobs(bucket_name)} == {"model.txt", "upload.txt"}


# -- API enablement ------------------------------------------------------------------------------------------
def test_an_api_that_is_not_enabled_answers_service_disabled(world: EmulatorHandle) -> None:
    number = number_of(world, "enf-bare")
    with pytest.raises(gexc.Forbidden) as raised:
        list(run_client(world, ALICE).list_services(parent=f"projects/enf-bare/locations/{LOCATION}"))
    error = error_json(raised.value)
    url = f"https://console.developers.google.com/apis/api/run.googleapis.com/overview?project={number}"
    assert error["message"] == (
        f"Cloud Run Admin API has not been used in project {number} before or it is disabled. Enable it by visiting "
        f"{url} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our "
        "systems and retry."
    )
    assert error["details"][0]["reason"] == "SERVICE_DISABLED"
    assert error["details"][0]["metadata"] == {
        "service": "run.googleapis.com",
        "consumer": f"projects/{number}",
        "activationUrl": url,
        "serviceTitle": "Cloud Run Admin API",
        "containerInfo": number,
    }
    compute = requests.get(
        f"{world.url}/compute/v1/projects/enf-bare/zones/{LOCATION}-a/instances",
        headers={"Authorization": f"Bearer emulator:{ALICE}"},
        timeout=10,
    )
    assert compute.status_code == 403
    assert compute.json()["error"]["errors"][0]["reason"] == "accessNotConfigured"
    assert compute.json()["error"]["details"][0]["reason"] == "SERVICE_DISABLED"


# -- Cloud Build runs as its service account -----------------------------------------------------------------
def _submit(handle: EmulatorHandle, member: str, account: str | None) -> requests.Response:
    image = f"{LOCATION}-docker.pkg.dev/{PROJECT}/apps/app:{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {
        "steps": [{"name": "gcr.io/cloud-builders/docker", "args": ["build", "-t", image, "."]}],
        "images": [image],
    }
    if account:
        body["serviceAccount"] = f"projects/{PROJECT}/serviceAccounts/{account}"
        body["options"] = {"logging": "CLOUD_LOGGING_ONLY"}
    return handle.as_caller(member).post(
        f"{handle.url}/v1/projects/{PROJECT}/locations/{LOCATION}/builds", json=body, timeout=10
    )


def _finished(handle: EmulatorHandle, answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    build_id = answer.json()["metadata"]["build"]["id"]
    url = f"{handle.url}/v1/projects/{PROJECT}/locations/{LOCATION}/builds/{build_id}"
    deadline = time.monotonic() + 60
    while True:
        build: dict[str, Any] = handle.as_caller(ALICE).get(url, timeout=10).json()
        if build["status"] not in ("QUEUED", "WORKING") or time.monotonic() > deadline:
            return build
        time.sleep(0.05)


def test_builds_need_act_as_and_push_as_their_service_account(world: EmulatorHandle) -> None:
    artifactregistry_v1.ArtifactRegistryClient(
        credentials=caller_credentials(ALICE), transport="rest", client_options=options(world)
    ).create_repository(
        parent=f"projects/{PROJECT}/locations/{LOCATION}",
        repository_id="apps",
        repository=artifactregistry_v1.Repository(format_=artifactregistry_v1.Repository.Format.DOCKER),
    ).result(timeout=30)
    unique_id = world.state()["iam.serviceAccounts"][BUILD_SA]["uniqueId"]

    refused = _submit(world, BUILDER, BUILD_SA)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        f"caller does not have permission to act as service account {unique_id}"
    )
    iam = AuthorizedSession(caller_credentials(ALICE))  # type: ignore[no-untyped-call]
    account_url = f"{world.url}/v1/projects/{PROJECT}/serviceAccounts/{BUILD_SA}"
    policy = {"bindings": [{"role": "roles/iam.serviceAccountUser", "members": [BUILDER]}]}
    assert iam.post(f"{account_url}:setIamPolicy", json={"policy": policy}, timeout=10).status_code == 200

    denied_push = _finished(world, _submit(world, BUILDER, BUILD_SA))
    assert denied_push["status"] == "FAILURE"
    assert (
        f'denied: Permission "artifactregistry.repositories.uploadArtifacts" denied on resource '
        f'"projects/{PROJECT}/locations/{LOCATION}/repositories/apps" (or it may not exist)'
    ) in denied_push["statusDetail"]
    assert "roles/logging.logWriter" in denied_push["warnings"][0]["text"]

    grant(world, PROJECT, "roles/artifactregistry.writer", f"serviceAccount:{BUILD_SA}")
    grant(world, PROJECT, "roles/logging.logWriter", f"serviceAccount:{BUILD_SA}")
    pushed = _finished(world, _submit(world, BUILDER, BUILD_SA))
    assert pushed["status"] == "SUCCESS", pushed.get("statusDetail")
    assert pushed["results"]["images"][0]["digest"].startswith("sha256:")
    assert "warnings" not in pushed


def test_without_an_account_a_build_runs_as_the_compute_default_account(world: EmulatorHandle) -> None:
    """Projects in an organization give the Compute Engine default account no role: its pushes are refused."""
    default = f"{number_of(world, PROJECT)}-compute@developer.gserviceaccount.com"
    build = _finished(world, _submit(world, ALICE, None))
    assert build["serviceAccount"] == f"projects/{PROJECT}/serviceAccounts/{default}"
    assert build["status"] == "FAILURE"
    assert "artifactregistry.repositories.uploadArtifacts" in build["statusDetail"]


# -- the role tables -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "permission", "held"), PROJECT_ROLE_TABLE)
def test_project_role_tables_match_enforcement(world: EmulatorHandle, role: str, permission: str, held: bool) -> None:
    answer = projects_client(world, role_member(role)).test_iam_permissions(
        resource=f"projects/{ROLES_PROJECT}", permissions=[permission]
    )
    assert (permission in answer.permissions) is held


@pytest.mark.parametrize(("role", "permission", "held"), BILLING_ROLE_TABLE)
def test_billing_role_tables_match_enforcement(world: EmulatorHandle, role: str, permission: str, held: bool) -> None:
    client = billing_v1.CloudBillingClient(
        credentials=caller_credentials(role_member(role)), transport="rest", client_options=options(world)
    )
    answer = client.test_iam_permissions(resource=f"billingAccounts/{ACCOUNT}", permissions=[permission])
    assert (permission in answer.permissions) is held
