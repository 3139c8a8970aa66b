"""A Service body's checks (run/validation.py): strict fields and enums, ids, Google's validation rules, GPUs."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from run_support import PARENT, PUBLIC_IMAGE, container, field_violation, raw_create


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
