"""Service Usage in the strict-world emulator, through the unmodified google-cloud-service-usage client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import run_v2, service_usage_v1

from deployer_emulator.testing import EmulatorHandle, caller_credentials, error_json, rest_client

ALICE = "user:alice@example.com"
BOB = "user:bob@example.com"
ACCOUNT = "0D0D0D-0D0D0D-0D0D0D"
BILLABLE = ["run.googleapis.com", "artifactregistry.googleapis.com", "cloudbuild.googleapis.com"]

SCENARIO: dict[str, Any] = {
    "billing_accounts": [{"id": ACCOUNT, "iam": {"roles/billing.admin": [ALICE]}}],
    "projects": [
        {"id": "su-billed", "billing_account": ACCOUNT, "iam": {"roles/owner": [ALICE], "roles/viewer": [BOB]}},
        {"id": "su-unbilled", "iam": {"roles/owner": [ALICE]}},
        {"id": "su-delay", "billing_account": ACCOUNT, "iam": {"roles/owner": [ALICE]}},
        {"id": "su-batch", "billing_account": ACCOUNT, "iam": {"roles/owner": [ALICE]}},
    ],
}


def usage(handle: EmulatorHandle, member: str = ALICE) -> service_usage_v1.ServiceUsageClient:
    return rest_client(service_usage_v1.ServiceUsageClient, handle, member)


def enabled(handle: EmulatorHandle, project: str) -> set[str]:
    listed = usage(handle).list_services(request={"parent": f"projects/{project}", "filter": "state:ENABLED"})
    return {s.config.name for s in listed}


def batch_enable(handle: EmulatorHandle, project: str, services: list[str]) -> Any:
    operation = usage(handle).batch_enable_services(request={"parent": f"projects/{project}", "service_ids": services})
    return operation.result(timeout=30)


def test_a_new_project_has_the_default_apis(world: EmulatorHandle) -> None:
    on = enabled(world, "su-billed")
    assert {"storage.googleapis.com", "logging.googleapis.com", "serviceusage.googleapis.com"} <= on
    assert not on & {"run.googleapis.com", "compute.googleapis.com", "iam.googleapis.com"}
    disabled = usage(world).list_services(request={"parent": "projects/su-billed", "filter": "state:DISABLED"})
    assert "run.googleapis.com" in {s.config.name for s in disabled}


def test_batch_enable_turns_apis_on(world: EmulatorHandle) -> None:
    response = batch_enable(world, "su-billed", BILLABLE)
    assert sorted(s.config.name for s in response.services) == sorted(BILLABLE)
    assert {s.state for s in response.services} == {service_usage_v1.State.ENABLED}
    assert set(BILLABLE) <= enabled(world, "su-billed")
    service = usage(world).get_service(request={"name": "projects/su-billed/services/run.googleapis.com"})
    assert (service.state, service.config.title) == (service_usage_v1.State.ENABLED, "Cloud Run Admin API")
    number = world.state()["resourcemanager.projects"]["su-billed"]["name"].split("/")[1]
    assert service.name == f"projects/{number}/services/run.googleapis.com"
    operations = [r["path"] for r in world.requests() if r["path"].startswith("/v1/operations/")]
    assert operations
    assert operations[-1].startswith(f"/v1/operations/acat.p2-{number}-")


def test_enabling_what_is_enabled_is_a_done_no_op(world: EmulatorHandle) -> None:
    batch_enable(world, "su-billed", ["run.googleapis.com"])
    answer = world.as_caller(ALICE).post(
        f"{world.url}/v1/projects/su-billed/services:batchEnable",
        json={"serviceIds": ["run.googleapis.com"]},
        timeout=10,
    )
    assert answer.status_code == 200
    assert (answer.json()["name"], answer.json()["done"]) == ("operations/noop.DONE_OPERATION", True)


def test_batch_enable_takes_at_most_twenty_and_is_all_or_nothing(world: EmulatorHandle) -> None:
    too_many = sorted(s for s in world.state()["serviceusage.services"]["su-batch"]) + BILLABLE * 4
    with pytest.raises(gexc.BadRequest):
        batch_enable(world, "su-batch", too_many[:21])
    with pytest.raises(gexc.Forbidden) as raised:
        batch_enable(world, "su-batch", ["iam.googleapis.com", "nope.googleapis.com"])
    error = error_json(raised.value)
    assert error["message"] == "Not found or permission denied for service(s): nope.googleapis.com."
    assert error["details"][0]["reason"] == "SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED"
    assert "iam.googleapis.com" not in enabled(world, "su-batch")


def test_billable_apis_need_billing(world: EmulatorHandle) -> None:
    number = world.state()["resourcemanager.projects"]["su-unbilled"]["name"].split("/")[1]
    with pytest.raises(gexc.BadRequest) as raised:
        batch_enable(world, "su-unbilled", ["iam.googleapis.com", "compute.googleapis.com"])
    error = error_json(raised.value)
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["message"] == (
        f"Billing account for project '{number}' is not found. Billing must be enabled for activation of "
        "service(s) 'compute.googleapis.com' to proceed."
    )
    info = next(d for d in error["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["reason"] == "UREQ_PROJECT_BILLING_NOT_FOUND"
    assert info["metadata"] == {"project": number, "services": "compute.googleapis.com"}
    assert "iam.googleapis.com" not in enabled(world, "su-unbilled")
    batch_enable(world, "su-unbilled", ["iam.googleapis.com"])  # not billable
    assert "iam.googleapis.com" in enabled(world, "su-unbilled")


def test_enable_and_disable_one_service(world: EmulatorHandle) -> None:
    client = usage(world)
    result = client.enable_service(request={"name": "projects/su-billed/services/secretmanager.googleapis.com"}).result(
        timeout=30
    )
    assert result.service.state == service_usage_v1.State.ENABLED
    disabled = client.disable_service(
        request={"name": "projects/su-billed/services/secretmanager.googleapis.com"}
    ).result(timeout=30)
    assert disabled.service.state == service_usage_v1.State.DISABLED
    assert "secretmanager.googleapis.com" not in enabled(world, "su-billed")


def test_a_viewer_may_list_but_not_enable(world: EmulatorHandle) -> None:
    assert "storage.googleapis.com" in {
        s.config.name for s in usage(world, BOB).list_services(request={"parent": "projects/su-billed"})
    }
    with pytest.raises(gexc.Forbidden) as raised:
        usage(world, BOB).enable_service(request={"name": "projects/su-billed/services/pubsub.googleapis.com"})
    error = error_json(raised.value)
    assert error["message"] == "Permission denied to enable service [pubsub.googleapis.com]"
    assert error["details"][0]["metadata"] == {"permission": "serviceusage.services.enable"}


@pytest.fixture
def long_propagation(world: EmulatorHandle) -> Iterator[None]:
    # Long enough that no test run outlasts it; the test then ends the propagation by setting the delay to zero.
    world.settings(service_enable_delay_s=600.0)
    try:
        yield
    finally:
        world.settings(service_enable_delay_s=0.0)


def test_a_freshly_enabled_api_answers_service_disabled_until_it_propagates(
    world: EmulatorHandle, long_propagation: None
) -> None:
    run = run_v2.ServicesClient(
        credentials=caller_credentials(ALICE), transport="rest", client_options={"api_endpoint": world.url}
    )
    parent = "projects/su-delay/locations/us-central1"
    number = world.state()["resourcemanager.projects"]["su-delay"]["name"].split("/")[1]
    with pytest.raises(gexc.Forbidden) as before:
        list(run.list_services(parent=parent))
    assert before.value.reason == "SERVICE_DISABLED"
    batch_enable(world, "su-delay", ["run.googleapis.com"])
    assert "run.googleapis.com" in enabled(world, "su-delay")  # Service Usage says so at once
    with pytest.raises(gexc.Forbidden) as propagating:
        list(run.list_services(parent=parent))
    error = error_json(propagating.value)
    assert error["message"].startswith(f"Cloud Run Admin API has not been used in project {number} before or it is")
    assert error["details"][0]["metadata"]["service"] == "run.googleapis.com"
    world.settings(service_enable_delay_s=0.0)
    assert list(run.list_services(parent=parent)) == []
