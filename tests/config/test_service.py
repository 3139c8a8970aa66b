"""Pure tier: ``[services.NAME]``: defaults, normalization and the rules Cloud Run enforces."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from deployer.config import FileConfig, ServiceConfig
from tests.config import SERVICE_DEFAULTS
from tests.config import validation_errors as _errors


def test_service_defaults() -> None:
    service = ServiceConfig()
    assert service.model_dump(mode="json") == SERVICE_DEFAULTS


def test_request_timeout_limits() -> None:
    assert ServiceConfig.model_validate({"timeout": "1s"}).timeout == 1
    assert ServiceConfig.model_validate({"timeout": "1h"}).timeout == 3600
    assert "between 1s and 3600s" in _errors(ServiceConfig, {"timeout": "61m"})[0]["msg"]


@pytest.mark.parametrize(
    ("cpu", "memory", "fragment"),
    [
        ("1", "4Gi", None),
        ("1", "5Gi", "needs cpu of at least 2"),
        ("2", "8Gi", None),
        ("2", "9Gi", "needs cpu of at least 4"),
        ("4", "16Gi", None),
        ("4", "17Gi", "needs cpu of at least 6"),
        ("6", "24Gi", None),
        ("6", "25Gi", "needs cpu of at least 8"),
        ("8", "32Gi", None),
        ("4", "1Gi", "needs memory of at least 2Gi"),
        ("4", "2Gi", None),
        ("6", "2Gi", "needs memory of at least 4Gi"),
        ("8", "3Gi", "needs memory of at least 4Gi"),
        ("8", "4Gi", None),
    ],
)
def test_cpu_memory_pairing(cpu: str, memory: str, fragment: str | None) -> None:
    if fragment is None:
        assert ServiceConfig.model_validate({"cpu": cpu, "memory": memory}).memory == memory
    else:
        assert fragment in _errors(ServiceConfig, {"cpu": cpu, "memory": memory})[0]["msg"]


def test_min_instances_at_most_max() -> None:
    message = _errors(ServiceConfig, {"min_instances": 4, "max_instances": 3})[0]["msg"]
    assert "min_instances = 4 is more than max_instances = 3" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_instances", 0),
        ("max_instances", 1001),
        ("concurrency", 0),
        ("concurrency", 1001),
        ("port", 0),
        ("port", 65536),
        ("min_instances", -1),
        ("port", "8080"),
        ("public", "yes"),
    ],
)
def test_numeric_ranges_and_types(field: str, value: object) -> None:
    assert _errors(ServiceConfig, {field: value})[0]["loc"] == (field,)


@pytest.mark.parametrize("name", ["PORT", "K_SERVICE", "K_ANYTHING", "CLOUD_RUN_TASK_INDEX", "1ABC", "A-B", ""])
def test_env_names_refused(name: str) -> None:
    errors = _errors(ServiceConfig, {"env": {name: "x"}})
    assert errors[0]["loc"] == ("env", name, "[key]")


def test_env_names_accepted() -> None:
    env = {"_X": "1", "DATABASE_URL": "postgres://", "lower_ok": ""}
    assert ServiceConfig.model_validate({"env": env}).env == env


@pytest.mark.parametrize("name", ["Api", "1api", "api-", "api_v2", "a" * 50, ""])
def test_service_names_refused(name: str) -> None:
    errors = _errors(FileConfig, {"services": {name: {}}})
    assert errors[0]["loc"] == ("services", name, "[key]")
    assert "invalid service name" in errors[0]["msg"]


def test_service_names_accepted() -> None:
    names: dict[str, dict[str, object]] = {"api": {}, "a": {}, "web-2": {}, "x" * 49: {}}
    assert set(FileConfig.model_validate({"services": names}).services) == set(names)


def test_service_account_must_look_like_an_email() -> None:
    assert ServiceConfig.model_validate({"service_account": "run@p.iam.gserviceaccount.com"}).service_account
    assert _errors(ServiceConfig, {"service_account": "runner"})[0]["loc"] == ("service_account",)


def test_models_are_frozen_and_closed() -> None:
    service = ServiceConfig()
    with pytest.raises(ValidationError):
        service.port = 9000  # type: ignore[misc]
    assert _errors(ServiceConfig, {"memmory": "1Gi"})[0]["type"] == "extra_forbidden"
