"""Tests of deployer/config/, one file per module."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

# A [services.NAME] table with nothing set, as the JSON that config shows and ServiceConfig dumps.
SERVICE_DEFAULTS: dict[str, Any] = {
    "dockerfile": "Dockerfile",
    "context": ".",
    "env": {},
    "secret_env": [],
    "cpu": "1",
    "memory": "512Mi",
    "min_instances": 0,
    "max_instances": 3,
    "concurrency": 80,
    "port": 8080,
    "public": False,
    "service_account": "",
    "roles": [],
    "args": [],
    "command": [],
    "timeout": 300,
    "gpu": None,
    "startup_timeout": None,
    "depends_on": [],
}


def validation_errors(model: type[Any], data: dict[str, Any]) -> list[dict[str, Any]]:
    """pydantic's errors for ``data``, which must not validate."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [dict(error) for error in caught.value.errors()]
