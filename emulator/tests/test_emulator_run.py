"""Cloud Run Admin API v2 in the emulator, through the unmodified google-cloud-run client (REST transport)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.oauth2.credentials import Credentials

from deployer_emulator.testing import EmulatorProcess

PROJECT = "run-tests"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
PUBLIC_IMAGE = "docker.io/library/python:3.12-slim"
MISSING_AR_IMAGE = f"{LOCATION}-docker.pkg.dev/{PROJECT}/apps/missing:v1"
REVISION_RE = r"{service}-0000{n}-[a-z0-9]{{3}}"
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
BY_REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
SUCCEEDED = run_v2.Condition.State.CONDITION_SUCCEEDED
FAILED = run_v2.Condition.State.CONDITION_FAILED


def services_client(url: str) -> run_v2.ServicesClient:
    return run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": url}
    )


def revisions_client(url: str) -> run_v2.RevisionsClient:
    return run_v2.RevisionsClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": url}
    )


def service_body(image: str, **template: Any) -> run_v2.Service:
    container = run_v2.Container(image=image, **template.pop("container", {}))
    return run_v2.Service(template=run_v2.RevisionTemplate(containers=[container], **template))


def create(url: str, service_id: str, image: str = PUBLIC_IMAGE, parent: str = PARENT) -> run_v2.Service:
    operation = services_client(url).create_service(parent=parent, service_id=service_id, service=service_body(image))
    result: run_v2.Service = operation.result(timeout=60)
    return result


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def raw_create(url: str, service_id: str, body: dict[str, Any], parent: str = PARENT) -> requests.Response:
    return requests.post(f"{url}/v2/{parent}/services", params={"serviceId": service_id}, json=body, timeout=10)


def wait_done(url: str, operation: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        doc: dict[str, Any] = requests.get(f"{url}/v2/{operation}", timeout=10).json()
        if doc.get("done"):
            return doc
        time.sleep(0.05)
    raise AssertionError(f"operation {operation} did not finish")


def api_error(exc: gexc.GoogleAPICallError) -> dict[str, Any]:
    """The error JSON the server answered (the client prefixes its message with the method and URL)."""
    assert exc.response is not None
    error: dict[str, Any] = exc.response.json()["error"]
    return error


def field_violation(response: requests.Response) -> tuple[str, str]:
    error = response.json()["error"]
    (detail,) = [d for d in error["details"] if d["@type"] == "type.googleapis.com/google.rpc.BadRequest"]
    (violation,) = detail["fieldViolations"]
    return violation["field"], violation["description"]


# ---------------------------------------------------------------------------------------------------------------
# Services and revisions (no container engine)
# ---------------------------------------------------------------------------------------------------------------


def test_create_answers_a_pending_operation_that_completes_with_the_service(emulator: Any) -> None:
    response = raw_create(emulator.url, "raw-op", {"template": {"containers": [{"image": PUBLIC_IMAGE}]}})

    assert response.status_code == 200
    operation = response.json()
    assert operation["done"] is False
    assert re.fullmatch(rf"{PARENT}/operations/[0-9a-f]{{32}}", operation["name"])
    assert operation["metadata"]["@type"] == "type.googleapis.com/google.cloud.run.v2.Service"
    assert operation["metadata"]["name"] == f"{PARENT}/services/raw-op"
    assert operation["metadata"]["reconciling"] is True
    done = wait_done(emulator.url, operation["name"])
    assert done["response"]["@type"] == "type.googleapis.com/google.cloud.run.v2.Service"
    assert done["response"]["terminalCondition"]["state"] == "CONDITION_SUCCEEDED"
    assert "reconciling" not in done["response"]  # false, and proto3 JSON leaves defaults out, as Google does


def test_created_service_reports_google_defaults_and_outputs(emulator: Any) -> None:
    service = create(emulator.url, "hello")

    assert service.name == f"{PARENT}/services/hello"
    assert service.uri == f"{emulator.url}/_emulator/run/{PROJECT}/{LOCATION}/hello"
    assert list(service.urls) == [service.uri]
    assert service.generation == 1
    assert service.observed_generation == 1
    assert re.fullmatch(REVISION_RE.format(service="hello", n=1), short(service.latest_ready_revision))
    assert service.latest_ready_revision.startswith(f"{PARENT}/services/hello/revisions/")
    assert service.latest_created_revision == service.latest_ready_revision
    assert service.terminal_condition.type_ == "Ready"
    assert service.terminal_condition.state == SUCCEEDED
    assert [(s.type_, s.percent, s.revision) for s in service.traffic_statuses] == [(LATEST, 100, "")]
    assert [(t.type_, t.percent) for t in service.traffic] == [(LATEST, 100)]
    assert service.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL
    assert service.launch_stage == 4  # google.api.LaunchStage.GA
    assert service.reconciling is False
    assert service.etag
    template = service.template
    assert template.max_instance_request_concurrency == 80
    assert template.timeout.total_seconds() == 300
    assert template.scaling.max_instance_count == 100
    assert re.fullmatch(r"\d{12}-compute@developer\.gserviceaccount\.com", template.service_account)
    container = template.containers[0]
    assert [(p.name, p.container_port) for p in container.ports] == [("http1", 8080)]
    assert dict(container.resources.limits) == {"cpu": "1000m", "memory": "512Mi"}
    assert container.resources.cpu_idle is True
    assert container.startup_probe.tcp_socket.port == 8080


def test_get_and_list_services(emulator: Any) -> None:
    parent = f"projects/{PROJECT}-list/locations/europe-west1"
    created = [create(emulator.url, name, parent=parent) for name in ("list-a", "list-b", "list-c")]
    client = services_client(emulator.url)

    assert client.get_service(name=created[1].name) == created[1]
    assert [s.name for s in client.list_services(parent=parent)] == [s.name for s in created]
    first_page = client.list_services(request={"parent": parent, "page_size": 2}).pages
    assert [len(page.services) for page in first_page] == [2, 1]
    with pytest.raises(gexc.NotFound) as missing:
        client.get_service(name=f"{parent}/services/nope")
    assert api_error(missing.value)["message"] == (
        f"Resource 'nope' of kind 'SERVICE' in region 'europe-west1' in project '{PROJECT}-list' does not exist."
    )


def test_update_creates_a_new_revision_and_moves_traffic(emulator: Any) -> None:
    client = services_client(emulator.url)
    first = create(emulator.url, "api")
    first.template.containers[0].image = "docker.io/library/python:3.11-slim"

    second = client.update_service(service=first).result(timeout=60)

    assert second.generation == 2
    assert second.observed_generation == 2
    assert re.fullmatch(REVISION_RE.format(service="api", n=2), short(second.latest_ready_revision))
    assert second.latest_created_revision == second.latest_ready_revision
    assert second.uri == first.uri
    assert second.etag != first.etag
    revisions = list(revisions_client(emulator.url).list_revisions(parent=first.name))
    assert [r.name for r in revisions] == [second.latest_ready_revision, first.latest_ready_revision]
    assert revisions[0].containers[0].image == "docker.io/library/python:3.11-slim"
    assert revisions[1].containers[0].image == PUBLIC_IMAGE
    assert revisions[0].service == first.name
    assert [c.type_ for c in revisions[0].conditions] == ["Ready", "ContainerHealthy", "ResourcesAvailable"]
    assert {c.state for c in revisions[0].conditions} == {SUCCEEDED}


def test_creator_and_last_modifier_are_the_callers(emulator: Any) -> None:
    def as_caller(member: str) -> run_v2.ServicesClient:
        # The emulator's token form names the caller: "emulator:<IAM member>".
        credentials = Credentials(token=f"emulator:{member}")
        return run_v2.ServicesClient(
            credentials=credentials, transport="rest", client_options={"api_endpoint": emulator.url}
        )

    created = (
        as_caller("user:alice@example.com")
        .create_service(parent=PARENT, service_id="owned", service=service_body(PUBLIC_IMAGE))
        .result(timeout=60)
    )
    created.labels = {"touched": "yes"}
    updated = as_caller("serviceAccount:ci@run-tests.iam.gserviceaccount.com").update_service(service=created)

    after = updated.result(timeout=60)
    assert (created.creator, created.last_modifier) == ("alice@example.com", "alice@example.com")
    assert (after.creator, after.last_modifier) == ("alice@example.com", "ci@run-tests.iam.gserviceaccount.com")


def test_update_with_the_same_desired_state_changes_nothing(emulator: Any) -> None:
    client = services_client(emulator.url)
    service = create(emulator.url, "same")

    again = client.update_service(service=service).result(timeout=60)

    assert again.generation == 1
    assert again.etag == service.etag
    assert again.latest_created_revision == service.latest_created_revision
    assert len(list(revisions_client(emulator.url).list_revisions(parent=service.name))) == 1


def test_a_revision_whose_image_is_missing_fails_and_traffic_stays(emulator: Any) -> None:
    client = services_client(emulator.url)
    good = create(emulator.url, "keep")
    good.template.containers[0].image = MISSING_AR_IMAGE

    operation = client.update_service(service=good)
    with pytest.raises(gexc.InternalServerError) as failure:
        operation.result(timeout=60)

    after = client.get_service(name=good.name)
    failed_revision = short(after.latest_created_revision)
    assert re.fullmatch(REVISION_RE.format(service="keep", n=2), failed_revision)
    message = (
        f"Revision '{failed_revision}' is not ready and cannot serve traffic. Image '{MISSING_AR_IMAGE}' not found."
    )
    assert failure.value.message == message
    assert after.latest_ready_revision == good.latest_ready_revision
    assert after.generation == 2
    assert after.observed_generation == 1
    assert after.terminal_condition.state == FAILED
    assert after.terminal_condition.message == message
    assert [(s.type_, s.percent) for s in after.traffic_statuses] == [(LATEST, 100)]
    assert after.reconciling is False
    revision = revisions_client(emulator.url).get_revision(name=after.latest_created_revision)
    ready = revision.conditions[0]
    assert (ready.type_, ready.state, ready.reason.name) == ("Ready", FAILED, "CONTAINER_MISSING")
    assert ready.message == f"Image '{MISSING_AR_IMAGE}' not found."


def test_a_first_deploy_that_fails_leaves_a_service_serving_nothing(emulator: Any) -> None:
    client = services_client(emulator.url)
    operation = client.create_service(parent=PARENT, service_id="never", service=service_body(MISSING_AR_IMAGE))
    with pytest.raises(gexc.InternalServerError):
        operation.result(timeout=60)

    service = client.get_service(name=f"{PARENT}/services/never")
    assert service.terminal_condition.state == FAILED
    assert service.latest_ready_revision == ""
    assert re.fullmatch(REVISION_RE.format(service="never", n=1), short(service.latest_created_revision))
    assert list(service.traffic_statuses) == []
    assert service.observed_generation == 0


def test_traffic_split_and_tags(emulator: Any) -> None:
    client = services_client(emulator.url)
    first = create(emulator.url, "split")
    first.template.containers[0].image = "docker.io/library/python:3.11-slim"
    second = client.update_service(service=first).result(timeout=60)
    old, new = short(first.latest_ready_revision), short(second.latest_ready_revision)
    second.traffic = [
        run_v2.TrafficTarget(type_=BY_REVISION, revision=old, percent=90),
        run_v2.TrafficTarget(type_=BY_REVISION, revision=new, percent=10, tag="canary"),
    ]

    third = client.update_service(service=second).result(timeout=60)

    assert third.generation == 3
    assert third.latest_created_revision == second.latest_created_revision  # traffic alone makes no revision
    statuses = [(s.type_, s.revision, s.percent, s.tag, s.uri) for s in third.traffic_statuses]
    canary_uri = f"{emulator.url}/_emulator/run/{PROJECT}/{LOCATION}/canary---split"
    assert statuses == [(BY_REVISION, old, 90, "", ""), (BY_REVISION, new, 10, "canary", canary_uri)]
    answer = requests.get(canary_uri, timeout=10)
    assert answer.status_code == 503
    assert "tag 'canary' of Cloud Run service 'split'" in answer.text


def test_traffic_to_a_revision_that_does_not_exist_fails_the_operation(emulator: Any) -> None:
    client = services_client(emulator.url)
    service = create(emulator.url, "ghost")
    service.traffic = [run_v2.TrafficTarget(type_=BY_REVISION, revision="ghost-00009-zzz", percent=100)]

    with pytest.raises(gexc.InternalServerError) as failure:
        client.update_service(service=service).result(timeout=60)

    assert failure.value.message == (
        "Revision 'ghost-00009-zzz' does not exist or is deleted. "
        "Update all traffic to route to currently available revisions."
    )
    after = client.get_service(name=service.name)
    assert [(s.type_, s.percent) for s in after.traffic_statuses] == [(LATEST, 100)]


def test_stale_etag_on_update_is_aborted(emulator: Any) -> None:
    client = services_client(emulator.url)
    service = create(emulator.url, "etag")
    stale = run_v2.Service.deserialize(run_v2.Service.serialize(service))
    service.labels = {"team": "a"}
    client.update_service(service=service).result(timeout=60)
    stale.labels = {"team": "b"}

    with pytest.raises(gexc.Conflict) as conflict:
        client.update_service(service=stale)

    assert api_error(conflict.value)["status"] == "ABORTED"
    assert dict(client.get_service(name=service.name).labels) == {"team": "a"}


def test_update_with_allow_missing_creates_and_without_it_is_not_found(emulator: Any) -> None:
    client = services_client(emulator.url)
    body = service_body(PUBLIC_IMAGE)
    body.name = f"{PARENT}/services/upsert"
    with pytest.raises(gexc.NotFound):
        client.update_service(service=body)

    created = client.update_service(request={"service": body, "allow_missing": True}).result(timeout=60)

    assert created.generation == 1
    assert re.fullmatch(REVISION_RE.format(service="upsert", n=1), short(created.latest_ready_revision))


def test_named_revisions(emulator: Any) -> None:
    client = services_client(emulator.url)
    body = service_body(PUBLIC_IMAGE, revision="named-blue")
    service = client.create_service(parent=PARENT, service_id="named", service=body).result(timeout=60)
    assert short(service.latest_ready_revision) == "named-blue"
    service.template.containers[0].image = "docker.io/library/python:3.11-slim"

    with pytest.raises(gexc.Conflict) as conflict:
        client.update_service(service=service)

    assert api_error(conflict.value)["message"] == (
        "Revision named 'named-blue' with different configuration already exists."
    )
    response = raw_create(
        emulator.url, "prefix", {"template": {"revision": "other-1", "containers": [{"image": PUBLIC_IMAGE}]}}
    )
    assert response.status_code == 400
    assert field_violation(response) == (
        "Violation in CreateServiceRequest.service.template.revision",
        "Revision name must be prefixed by the name of the enclosing Service or Configuration with a trailing -",
    )


def test_validate_only_persists_nothing(emulator: Any) -> None:
    client = services_client(emulator.url)
    request = {"parent": PARENT, "service_id": "dry", "service": service_body(PUBLIC_IMAGE), "validate_only": True}

    preview = client.create_service(request=request).result(timeout=10)

    assert preview.name == f"{PARENT}/services/dry"
    assert preview.template.max_instance_request_concurrency == 80
    with pytest.raises(gexc.NotFound):
        client.get_service(name=f"{PARENT}/services/dry")


def test_delete_service_and_revision_rules(emulator: Any) -> None:
    client = services_client(emulator.url)
    revisions = revisions_client(emulator.url)
    first = create(emulator.url, "doomed")
    first.template.containers[0].image = "docker.io/library/python:3.11-slim"
    second = client.update_service(service=first).result(timeout=60)

    with pytest.raises(gexc.BadRequest) as serving:  # FAILED_PRECONDITION is HTTP 400
        revisions.delete_revision(name=second.latest_ready_revision)
    assert api_error(serving.value)["status"] == "FAILED_PRECONDITION"
    deleted_revision = revisions.delete_revision(name=first.latest_ready_revision).result(timeout=30)
    assert deleted_revision.name == first.latest_ready_revision
    assert deleted_revision.delete_time is not None
    with pytest.raises(gexc.NotFound):
        revisions.get_revision(name=first.latest_ready_revision)

    deleted = client.delete_service(name=first.name).result(timeout=30)

    assert deleted.name == first.name
    assert deleted.delete_time.year >= 2024
    with pytest.raises(gexc.NotFound):
        client.get_service(name=first.name)
    with pytest.raises(gexc.NotFound):
        revisions.get_revision(name=second.latest_ready_revision)
    assert requests.get(first.uri, timeout=10).status_code == 404


def test_create_of_an_existing_service_is_a_conflict(emulator: Any) -> None:
    create(emulator.url, "twice")

    response = raw_create(emulator.url, "twice", {"template": {"containers": [{"image": PUBLIC_IMAGE}]}})

    assert response.status_code == 409
    assert response.json()["error"]["status"] == "ALREADY_EXISTS"
    assert response.json()["error"]["message"] == "Resource 'twice' already exists."


def test_no_engine_uri_explains_why_nothing_serves(emulator: Any) -> None:
    service = create(emulator.url, "explain")

    answer = requests.get(service.uri, timeout=10)

    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Cloud Run service 'explain'" in answer.text
    assert "this emulator has no container engine" in answer.text
    assert "Install podman or docker" in answer.text
    assert emulator.requests()[-1]["path"] != f"/_emulator/run/{PROJECT}/{LOCATION}/explain"  # not an API call


# ---------------------------------------------------------------------------------------------------------------
# Strict requests
# ---------------------------------------------------------------------------------------------------------------


def test_unknown_field_is_rejected(emulator: Any) -> None:
    body = {"template": {"containers": [{"image": PUBLIC_IMAGE, "imagePullPolicy": "Always"}]}}

    response = raw_create(emulator.url, "strict-field", body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "imagePullPolicy" in error["message"]
    assert requests.get(f"{emulator.url}/v2/{PARENT}/services/strict-field", timeout=10).status_code == 404


def test_bad_enum_is_rejected(emulator: Any) -> None:
    body = {"ingress": "INGRESS_TRAFFIC_SOMETIMES", "template": {"containers": [{"image": PUBLIC_IMAGE}]}}

    response = raw_create(emulator.url, "strict-enum", body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "INGRESS_TRAFFIC_SOMETIMES" in error["message"]


def test_unknown_query_parameter_is_rejected(emulator: Any) -> None:
    response = requests.get(f"{emulator.url}/v2/{PARENT}/services", params={"pageSise": "2"}, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "pageSise": Cannot bind query parameter. '
        "Field 'pageSise' could not be found in request message."
    )


@pytest.mark.parametrize("service_id", ["1api", "Api", "api-", "api_v2", "a" * 50, ""])
def test_invalid_service_id(emulator: Any, service_id: str) -> None:
    response = raw_create(emulator.url, service_id, {"template": {"containers": [{"image": PUBLIC_IMAGE}]}})

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert field_violation(response) == (
        "Violation in CreateServiceRequest.service_id",
        "only lowercase, digits, and hyphens; must begin with letter, and cannot end with hyphen; "
        "must be less than 50 characters.",
    )


def container(**fields: Any) -> dict[str, Any]:
    return {"template": {"containers": [{"image": PUBLIC_IMAGE, **fields}]}}


GPU_LIMITS = {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}


@pytest.mark.parametrize(
    ("body", "field", "description"),
    [
        ({}, "template", "required field not present."),
        ({"template": {}}, "template", "required field not present."),
        ({"template": {"containers": [{}]}}, "template.containers[0].image", "required field not present."),
        (
            container(ports=[{"containerPort": 80}, {"containerPort": 81}]),
            "template.containers[0].ports",
            "ports should contain 0 or 1 port.",
        ),
        (
            container(env=[{"name": "PORT", "value": "9000"}]),
            "template.containers[0].env",
            "The following reserved env names were provided: PORT. These values are automatically set by the system.",
        ),
        (
            {"template": {"containers": [{"image": "ghcr.io/acme/app:1"}]}},
            "template.containers[0].image",
            "Expected an image path like [host/]repo-path[:tag and/or @digest], where host is one of "
            "[region.]gcr.io, [region-]docker.pkg.dev or docker.io but obtained ghcr.io/acme/app:1",
        ),
        (
            container(resources={"limits": {"cpu": "1", "memory": "8Gi"}}),
            "template.containers[0].resources.limits",
            "Invalid value specified for container memory. For 1.0 CPU, memory must be between 128Mi and 4Gi "
            "inclusive.",
        ),
        (
            container(resources={"limits": {"cpu": "0.5", "memory": "256Mi"}}),
            "template.containers[0].resources.limits",
            "Total cpu < 1 is not supported with concurrency > 1.",
        ),
        (
            container(resources={"limits": GPU_LIMITS}),
            "template.node_selector.accelerator",
            "required when a container requests nvidia.com/gpu.",
        ),
        (
            {
                "template": {
                    "nodeSelector": {"accelerator": "nvidia-l4"},
                    "containers": [{"image": PUBLIC_IMAGE, "resources": {"limits": GPU_LIMITS, "cpuIdle": True}}],
                }
            },
            "template.containers[0].resources.cpu_idle",
            "GPU requires CPU to be always allocated: set cpu_idle to false (instance-based billing).",
        ),
        (
            {"template": {"maxInstanceRequestConcurrency": 1001, "containers": [{"image": PUBLIC_IMAGE}]}},
            "template.max_instance_request_concurrency",
            "must be between 0 and 1000.",
        ),
        (
            {"template": {"scaling": {"minInstanceCount": 5, "maxInstanceCount": 2}, "containers": [{"image": "a"}]}},
            "template.scaling",
            "min_instance_count must be less than or equal to max_instance_count.",
        ),
        (
            {**container(), "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 90}]},
            "traffic",
            "Traffic targets sum to 90, want 100.",
        ),
    ],
)
def test_google_validation_rules(emulator: Any, body: dict[str, Any], field: str, description: str) -> None:
    response = raw_create(emulator.url, "invalid", body)

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert field_violation(response) == (f"Violation in CreateServiceRequest.service.{field}", description)


def test_a_gpu_service_with_its_requirements_is_accepted(emulator: Any) -> None:
    body = {
        "template": {
            "nodeSelector": {"accelerator": "nvidia-l4"},
            "containers": [{"image": PUBLIC_IMAGE, "resources": {"limits": GPU_LIMITS, "cpuIdle": False}}],
        }
    }

    response = raw_create(emulator.url, "gpu", body)

    assert response.status_code == 200
    done = wait_done(emulator.url, response.json()["name"])
    assert done["response"]["template"]["containers"][0]["resources"]["limits"] == GPU_LIMITS


# ---------------------------------------------------------------------------------------------------------------
# IAM and operations
# ---------------------------------------------------------------------------------------------------------------


def test_iam_policy_roundtrip_and_stale_etag(emulator: Any) -> None:
    client = services_client(emulator.url)
    service = create(emulator.url, "iam")

    empty = client.get_iam_policy(request={"resource": service.name})
    assert (empty.version, list(empty.bindings), empty.etag) == (1, [], b"\x00\x20\x01")
    empty.bindings.append(policy_pb2.Binding(role="roles/run.invoker", members=["allUsers"]))
    updated = client.set_iam_policy(request={"resource": service.name, "policy": empty})
    assert [(b.role, list(b.members)) for b in updated.bindings] == [("roles/run.invoker", ["allUsers"])]
    assert updated.etag[:1] == b"\x07"
    assert client.get_iam_policy(request={"resource": service.name}) == updated

    with pytest.raises(gexc.Conflict) as conflict:
        client.set_iam_policy(request={"resource": service.name, "policy": empty})  # still carries the old etag
    assert api_error(conflict.value)["status"] == "ABORTED"
    assert api_error(conflict.value)["message"] == (
        "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
    )

    held = client.test_iam_permissions(
        request={"resource": service.name, "permissions": ["run.services.get", "run.routes.invoke"]}
    )
    assert list(held.permissions) == ["run.services.get", "run.routes.invoke"]


def test_iam_rejects_unknown_members(emulator: Any) -> None:
    service = create(emulator.url, "iam-bad")
    request = iam_policy_pb2.SetIamPolicyRequest(
        resource=service.name, policy=policy_pb2.Policy(bindings=[{"role": "roles/run.invoker", "members": ["bob"]}])
    )

    with pytest.raises(gexc.BadRequest) as bad:
        services_client(emulator.url).set_iam_policy(request=request)

    assert api_error(bad.value)["message"].startswith("Invalid member: 'bob'.")


def test_operations_get_list_and_wait(emulator: Any) -> None:
    parent = f"projects/{PROJECT}-ops/locations/{LOCATION}"
    response = raw_create(emulator.url, "ops", {"template": {"containers": [{"image": PUBLIC_IMAGE}]}}, parent)
    name = response.json()["name"]

    waited = requests.post(f"{emulator.url}/v2/{name}:wait", json={"timeout": "20s"}, timeout=30).json()
    listed = requests.get(f"{emulator.url}/v2/{parent}/operations", timeout=10).json()

    assert waited["done"] is True
    assert waited["response"]["name"] == f"{parent}/services/ops"
    assert [op["name"] for op in listed["operations"]] == [name]
    assert requests.delete(f"{emulator.url}/v2/{name}", timeout=10).json() == {}
    assert requests.get(f"{emulator.url}/v2/{name}", timeout=10).status_code == 404


# ---------------------------------------------------------------------------------------------------------------
# Images recorded in Artifact Registry (an emulator process started on a seeded state)
# ---------------------------------------------------------------------------------------------------------------

AR_PROJECT = "run-ar-tests"
AR_REPO = "apps"
AR_PARENT = f"projects/{AR_PROJECT}/locations/{LOCATION}"
AR_HOST = f"{LOCATION}-docker.pkg.dev/{AR_PROJECT}/{AR_REPO}"


def seed_registry(state_dir: Path, images: list[tuple[str, str, bool, str | None]]) -> None:
    """Create the repository through Artifact Registry's own handler and record (image, tag, executable, local id)."""
    from deployer_emulator import artifactregistry
    from deployer_emulator.core import Request
    from deployer_emulator.server import build_emulator

    seeded = build_emulator(state_dir=state_dir, engine=None)
    path = f"/v1/{AR_PARENT}/repositories"
    handler, params = seeded.router.match("POST", path)
    body = json.dumps({"format": "DOCKER"}).encode()
    operation = handler(Request("POST", path, {"repositoryId": [AR_REPO]}, {}, body, "user:seed@example.com"), **params)
    seeded.wait_operation(operation["name"], 10)
    for index, (image, tag, executable, local_id) in enumerate(images):
        digest = "sha256:" + f"{index:x}" * 64
        artifactregistry.record_image(
            seeded, AR_PROJECT, LOCATION, AR_REPO, image, [tag], digest, 1000, executable, local_id
        )
    seeded.state.save()
    seeded.close()


class Process:
    def __init__(self, process: EmulatorProcess) -> None:
        self.process = process
        self.url = process.url


@pytest.fixture(scope="module")
def seeded_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    state_dir = tmp_path_factory.mktemp("run-seeded") / "state"
    seed_registry(state_dir, [("built", "v1", False, None)])
    process = EmulatorProcess(state_dir=state_dir, env={"DEPLOYER_EMULATOR_ENGINE": "none"}).start()
    try:
        yield Process(process)
    finally:
        process.stop()


def test_an_image_in_artifact_registry_deploys_without_an_engine(seeded_emulator: Process) -> None:
    service = create(seeded_emulator.url, "from-registry", f"{AR_HOST}/built:v1", parent=AR_PARENT)

    assert service.terminal_condition.state == SUCCEEDED
    assert service.uri == f"{seeded_emulator.url}/_emulator/run/{AR_PROJECT}/{LOCATION}/from-registry"
    answer = requests.get(service.uri, timeout=10)
    assert answer.status_code == 503
    assert f"its image ({AR_HOST}/built:v1) was not run" in answer.text


def test_a_tag_missing_from_the_repository_fails(seeded_emulator: Process) -> None:
    client = services_client(seeded_emulator.url)
    operation = client.create_service(
        parent=AR_PARENT, service_id="wrong-tag", service=service_body(f"{AR_HOST}/built:v2")
    )

    with pytest.raises(gexc.InternalServerError) as failure:
        operation.result(timeout=60)

    assert failure.value.message.endswith(f"Image '{AR_HOST}/built:v2' not found.")


# ---------------------------------------------------------------------------------------------------------------
# Revisions run for real (container engine)
# ---------------------------------------------------------------------------------------------------------------

APP = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{os.environ['K_REVISION']} says {os.environ.get('GREETING', 'hello')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""
APP_IMAGE = "docker.io/deployer-tests/run-app:v1"  # a local tag: the emulator runs what the engine has


def engine_binary() -> str:
    from deployer_emulator.engine import detect_engine

    engine = detect_engine()
    assert engine is not None
    return engine.binary


@pytest.fixture(scope="module")
def app_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny HTTP app on the local stand-in for python:3.12-slim; its engine image id."""
    context = tmp_path_factory.mktemp("run-app")
    (context / "app.py").write_text(APP)
    (context / "Dockerfile").write_text(
        'FROM docker.io/library/python:3.12-slim\nCOPY app.py /app.py\nCMD ["python3", "-u", "/app.py"]\n'
    )
    binary = engine_binary()
    subprocess.run([binary, "build", "-q", "-t", APP_IMAGE, str(context)], check=True, capture_output=True)
    image_id = subprocess.run(
        [binary, "image", "inspect", "--format", "{{.Id}}", APP_IMAGE], check=True, capture_output=True, text=True
    ).stdout.strip()
    yield image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"
    subprocess.run([binary, "rmi", "-f", APP_IMAGE], capture_output=True, check=False)


def containers_named(prefix: str) -> list[str]:
    listed = subprocess.run(
        [engine_binary(), "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    )
    return [n for n in listed.stdout.split() if n.startswith(prefix)]


@pytest.mark.containers
def test_engine_serves_the_app_at_a_uri_that_survives_updates(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    first = client.create_service(parent=parent, service_id="web", service=service_body(APP_IMAGE)).result(timeout=90)
    first_revision = short(first.latest_ready_revision)

    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first.uri)
    assert requests.get(first.uri, timeout=10).text == f"{first_revision} says hello"

    first.template.containers[0].env = [run_v2.EnvVar(name="GREETING", value="bonjour")]
    second = client.update_service(service=first).result(timeout=90)
    second_revision = short(second.latest_ready_revision)

    assert second.uri == first.uri
    assert re.fullmatch(REVISION_RE.format(service="web", n=2), second_revision)
    assert requests.get(second.uri, timeout=10).text == f"{second_revision} says bonjour"

    second.template.containers[0].command = ["sh", "-c", "echo about to fail; exit 3"]
    with pytest.raises(gexc.FailedPrecondition) as failure:
        client.update_service(service=second).result(timeout=90)

    after = client.get_service(name=first.name)
    failed_revision = short(after.latest_created_revision)
    assert failure.value.message == (
        f"Revision '{failed_revision}' is not ready and cannot serve traffic. The user-provided container failed to "
        "start and listen on the port defined provided by the PORT=8080 environment variable within the allocated "
        "timeout. This can happen when the container port is misconfigured or if the timeout is too short. The "
        "health check timeout can be extended. Logs for this revision might contain more information."
    )
    assert after.latest_ready_revision == second.latest_ready_revision
    assert requests.get(after.uri, timeout=10).text == f"{second_revision} says bonjour"
    revision = revisions_client(engine_emulator.url).get_revision(name=after.latest_created_revision)
    healthy = revision.conditions[1]
    assert (healthy.type_, healthy.state, healthy.revision_reason.name) == (
        "ContainerHealthy",
        FAILED,
        "HEALTH_CHECK_CONTAINER_ERROR",
    )
    assert "The container exited with code 3. Last lines of its log:\nabout to fail" in healthy.message
    assert requests.get(revision.log_uri, timeout=10).text == "about to fail\n"
    assert containers_named(f"deployer-emu-run-engine-web-{failed_revision}") == []

    client.delete_service(name=first.name).result(timeout=60)
    assert containers_named("deployer-emu-run-engine-web-") == []
    with pytest.raises(requests.ConnectionError):
        requests.get(first.uri, timeout=5)


@pytest.mark.containers
def test_engine_splits_traffic_and_serves_tags(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    body = service_body(APP_IMAGE, container={"ports": [run_v2.ContainerPort(container_port=9000)]})
    first = client.create_service(parent=parent, service_id="ab", service=body).result(timeout=90)
    assert requests.get(first.uri, timeout=10).status_code == 200  # the app listens on $PORT, here 9000
    first.template.containers[0].env = [run_v2.EnvVar(name="GREETING", value="b")]
    second = client.update_service(service=first).result(timeout=90)
    a, b = short(first.latest_ready_revision), short(second.latest_ready_revision)
    second.traffic = [
        run_v2.TrafficTarget(type_=BY_REVISION, revision=a, percent=50, tag="blue"),
        run_v2.TrafficTarget(type_=BY_REVISION, revision=b, percent=50),
    ]

    split = client.update_service(service=second).result(timeout=90)

    answers = Counter(requests.get(split.uri, timeout=10).text for _ in range(40))
    assert set(answers) == {f"{a} says hello", f"{b} says b"}
    (blue,) = [s for s in split.traffic_statuses if s.tag == "blue"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", blue.uri)
    assert blue.uri != split.uri
    assert {requests.get(blue.uri, timeout=10).text for _ in range(5)} == {f"{a} says hello"}
    client.delete_service(name=first.name).result(timeout=60)
    assert containers_named("deployer-emu-run-engine-ab-") == []


@pytest.mark.containers
def test_engine_removes_a_revision_that_no_longer_receives_traffic(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    first = client.create_service(parent=parent, service_id="idle", service=service_body(APP_IMAGE)).result(timeout=90)
    old = f"deployer-emu-run-engine-idle-{short(first.latest_ready_revision)}"
    assert containers_named(old) == [old]
    engine_emulator.settings(run_idle_revision_remove_s=0.5)
    try:
        first.template.containers[0].env = [run_v2.EnvVar(name="GREETING", value="again")]
        second = client.update_service(service=first).result(timeout=90)
        deadline = time.monotonic() + 30
        while containers_named(old) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        engine_emulator.settings(run_idle_revision_remove_s=30.0)

    assert containers_named(old) == []  # scaled to zero, as Google does with a revision without traffic
    assert requests.get(second.uri, timeout=10).text == f"{short(second.latest_ready_revision)} says again"
    client.delete_service(name=first.name).result(timeout=60)


@pytest.mark.containers
def test_engine_fails_a_container_that_never_listens(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    body = service_body(APP_IMAGE, container={"command": ["sleep", "300"]})
    engine_emulator.settings(revision_start_timeout_s=2.0)
    try:
        operation = client.create_service(parent=parent, service_id="mute", service=body)
        with pytest.raises(gexc.FailedPrecondition):
            operation.result(timeout=60)
    finally:
        engine_emulator.settings(revision_start_timeout_s=60.0)

    service = client.get_service(name=f"{parent}/services/mute")
    revision = revisions_client(engine_emulator.url).get_revision(name=service.latest_created_revision)
    assert "The container did not listen on port 8080 within 2 s." in revision.conditions[0].message
    assert containers_named("deployer-emu-run-engine-mute-") == []
    answer = requests.get(service.uri, timeout=10)
    assert answer.status_code == 503
    assert answer.text == "Service mute has no revision ready to serve traffic.\n"
    client.delete_service(name=service.name).result(timeout=60)


@pytest.mark.containers
def test_engine_reports_a_local_image_it_does_not_have(engine_emulator: Any) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    image = "docker.io/deployer-tests/not-built:v0"
    operation = client.create_service(parent=parent, service_id="absent", service=service_body(image))

    with pytest.raises(gexc.InternalServerError) as failure:
        operation.result(timeout=60)

    assert failure.value.message.endswith(f"Image '{image}' not found.")


@pytest.fixture(scope="module")
def seeded_engine_emulator(
    tmp_path_factory: pytest.TempPathFactory, engine_emulator: Any, app_image: str
) -> Iterator[Process]:
    # Depending on engine_emulator skips this, with its reason, where no engine answers.
    state_dir = tmp_path_factory.mktemp("run-seeded-engine") / "state"
    seed_registry(state_dir, [("app", "v1", True, app_image), ("placeholder", "v1", False, None)])
    process = EmulatorProcess(state_dir=state_dir, env={"DEPLOYER_EMULATOR_ENGINE": engine_emulator.engine}).start()
    try:
        yield Process(process)
    finally:
        process.stop()
    assert containers_named(f"deployer-emu-{AR_PROJECT}-") == []  # the emulator removed what it started


@pytest.mark.containers
def test_engine_runs_the_image_artifact_registry_recorded(seeded_engine_emulator: Process) -> None:
    service = create(seeded_engine_emulator.url, "registry-app", f"{AR_HOST}/app:v1", parent=AR_PARENT)

    assert requests.get(service.uri, timeout=10).text == f"{short(service.latest_ready_revision)} says hello"
    assert containers_named(f"deployer-emu-{AR_PROJECT}-registry-app-") == [
        f"deployer-emu-{AR_PROJECT}-registry-app-{short(service.latest_ready_revision)}"
    ]


@pytest.mark.containers
def test_engine_does_not_pretend_to_run_an_image_no_build_executed(seeded_engine_emulator: Process) -> None:
    service = create(seeded_engine_emulator.url, "placeholder", f"{AR_HOST}/placeholder:v1", parent=AR_PARENT)

    answer = requests.get(service.uri, timeout=10)

    assert service.terminal_condition.state == SUCCEEDED
    assert answer.status_code == 503
    assert "recorded by a build that did not execute" in answer.text
