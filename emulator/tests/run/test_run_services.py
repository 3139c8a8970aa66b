"""Cloud Run services (run/services.py): create, get, list, update, delete, through google-cloud-run."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import run_v2
from google.oauth2.credentials import Credentials
from run_support import (
    LATEST,
    LOCATION,
    PARENT,
    PROJECT,
    PUBLIC_IMAGE,
    REVISION_RE,
    SUCCEEDED,
    api_error,
    create,
    raw_create,
    revisions_client,
    service_body,
    services_client,
    short,
    wait_done,
)


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


def test_validate_only_persists_nothing(emulator: Any) -> None:
    client = services_client(emulator.url)
    request = {"parent": PARENT, "service_id": "dry", "service": service_body(PUBLIC_IMAGE), "validate_only": True}

    emulator.mark()
    preview = client.create_service(request=request).result(timeout=10)

    # The request log counts a validate_only request as a read: "no mutating request" holds for a dry run.
    (checked,) = [r for r in emulator.requests() if r["method"] == "POST"]
    assert (checked["query"]["validateOnly"], checked["mutating"]) == ("true", False)
    assert emulator.mutating_requests() == []
    assert preview.name == f"{PARENT}/services/dry"
    assert preview.template.max_instance_request_concurrency == 80
    with pytest.raises(gexc.NotFound):
        client.get_service(name=f"{PARENT}/services/dry")


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
