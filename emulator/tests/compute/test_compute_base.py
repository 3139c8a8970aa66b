"""Compute's request checks (compute/base.py): strict bodies, enum values and unknown query parameters."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests
from compute_support import ZONE, _instance, _project
from google.cloud import compute_v1


def test_strict_parsing_and_unknown_query_parameters(emulator: Any) -> None:
    project = _project()
    url = f"{emulator.url}/compute/v1/projects/{project}/zones/{ZONE}/instances"
    body = json.loads(compute_v1.Instance.to_json(_instance("raw", "e2-small")))
    body["machineTipe"] = "typo"
    unknown = requests.post(url, json=body, timeout=10)
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "machineTipe" in error["message"]

    body.pop("machineTipe")
    body["scheduling"]["onHostMaintenance"] = "SOMETIMES"
    bad_enum = requests.post(url, json=body, timeout=10)
    assert bad_enum.status_code == 400
    assert "SOMETIMES" in bad_enum.json()["error"]["message"]

    body["scheduling"]["onHostMaintenance"] = "TERMINATE"
    query = requests.post(url, params={"zoneName": ZONE}, json=body, timeout=10)
    assert query.status_code == 400
    assert 'Unknown name "zoneName"' in query.json()["error"]["message"]

    # The raw operation is Compute's own message, not google.longrunning's.
    created = requests.post(url, params={"requestId": str(uuid.uuid4())}, json=body, timeout=10).json()
    assert created["kind"] == "compute#operation"
    assert created["status"] == "RUNNING"
    assert created["id"].isdigit()
    assert "done" not in created
    assert requests.get(f"{url}/nope", timeout=10).json()["error"]["errors"][0]["reason"] == "notFound"
