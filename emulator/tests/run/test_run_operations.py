"""Cloud Run's operations (run/operations.py): get, list and wait."""

from __future__ import annotations

from typing import Any

import requests
from run_support import LOCATION, PROJECT, PUBLIC_IMAGE, raw_create


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
