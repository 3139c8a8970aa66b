"""What the Cloud Run tests share: clients on the emulator, a service body, waiting for operations."""

from __future__ import annotations

import time
from typing import Any

import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

PROJECT = "run-tests"


LOCATION = "us-central1"


PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


PUBLIC_IMAGE = "docker.io/library/python:3.12-slim"


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


def container(**fields: Any) -> dict[str, Any]:
    return {"template": {"containers": [{"image": PUBLIC_IMAGE, **fields}]}}
