"""Revisions (run/revisions.py): names, and the rules for deleting revisions and services."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from run_support import (
    PARENT,
    PUBLIC_IMAGE,
    api_error,
    create,
    field_violation,
    raw_create,
    revisions_client,
    service_body,
    services_client,
    short,
)


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
