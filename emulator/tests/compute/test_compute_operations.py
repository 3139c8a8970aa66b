"""Compute's operations (compute/operations.py): a retried requestId, wait on an unknown operation, wait's deadline."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from compute_support import REGION, ZONE, _client, _instance, _project
from google.api_core import exceptions
from google.cloud import compute_v1


def test_a_retried_request_id_gets_the_same_operation(emulator: Any) -> None:
    project = _project()
    instances = _client(compute_v1.InstancesClient, emulator)
    request_id = str(uuid.uuid4())
    request = compute_v1.InsertInstanceRequest(
        project=project, zone=ZONE, instance_resource=_instance("once", "e2-small"), request_id=request_id
    )
    first = instances.insert_unary(request=request)
    again = instances.insert_unary(request=request)
    assert again.name == first.name
    assert again.client_operation_id == request_id


def test_wait_on_an_unknown_operation_is_not_found(emulator: Any) -> None:
    with pytest.raises(exceptions.NotFound):
        _client(compute_v1.ZoneOperationsClient, emulator).wait(
            project=_project(), zone=ZONE, operation="operation-1-2"
        )
    emulator.mark()
    with pytest.raises(exceptions.NotFound):
        _client(compute_v1.RegionOperationsClient, emulator).get(
            project=_project(), region=REGION, operation="operation-1"
        )
    assert [r["mutating"] for r in emulator.requests()] == [False]


def test_wait_returns_a_running_operation_at_its_deadline(emulator: Any, settings: Any) -> None:
    """Google's wait answers after about two minutes whether or not the operation is done (here: a 0 s deadline)."""
    project = _project()
    settings(compute_operation_s=3600, compute_wait_timeout_s=0)
    operation = _client(compute_v1.InstancesClient, emulator).insert(
        project=project, zone=ZONE, instance_resource=_instance("slow", "e2-small")
    )
    waited = _client(compute_v1.ZoneOperationsClient, emulator).wait(
        project=project, zone=ZONE, operation=operation.name
    )
    assert waited.status == compute_v1.Operation.Status.RUNNING
    assert _client(compute_v1.InstancesClient, emulator).get(project=project, zone=ZONE, instance="slow").status in (
        "PROVISIONING",
        "STAGING",
    )
