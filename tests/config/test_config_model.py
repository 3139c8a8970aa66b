"""The configuration models on their own: defaults, normalization and the rules Cloud Run enforces."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from deployer.config import BuildConfig, FileConfig, ServiceConfig, config_schema
from deployer.config.model import normalize_cpu, normalize_memory, parse_duration


def _errors(model: type[Any], data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [dict(error) for error in caught.value.errors()]


def test_service_defaults() -> None:
    service = ServiceConfig()
    assert service.model_dump(mode="json") == {
        "dockerfile": "Dockerfile",
        "context": ".",
        "env": {},
        "cpu": "1",
        "memory": "512Mi",
        "min_instances": 0,
        "max_instances": 3,
        "concurrency": 80,
        "port": 8080,
        "public": False,
        "service_account": "",
        "args": [],
        "command": [],
        "timeout": 300,
    }


def test_build_defaults() -> None:
    assert BuildConfig().model_dump(mode="json") == {
        "max_context_mb": 500,
        "timeout": 1200,
        "machine_type": "",
        "allow_credential_files": [],
    }


def test_file_defaults_leave_top_level_unset() -> None:
    config = FileConfig()
    assert (config.project, config.region, config.repository) == (None, None, None)
    assert config.services == {}


@pytest.mark.parametrize(
    ("given", "expected"),
    [(1, "1"), ("2", "2"), (4.0, "4"), ("6", "6"), ("8000m", "8"), ("1000m", "1"), (" 2 ", "2")],
)
def test_cpu_is_normalized(given: object, expected: str) -> None:
    assert normalize_cpu(given) == expected
    assert ServiceConfig.model_validate({"cpu": given, "memory": "4Gi"}).cpu == expected


@pytest.mark.parametrize("given", ["3", 0.5, "500m", "1.5", "", "one", True, 16, None])
def test_cpu_refuses_other_values(given: object) -> None:
    with pytest.raises(ValueError, match=r"must be one of 1, 2, 4, 6, 8"):
        normalize_cpu(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("512Mi", "512Mi"), ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("2Gi", "2Gi"), ("32Gi", "32Gi")],
)
def test_memory_is_normalized(given: str, expected: str) -> None:
    assert normalize_memory(given) == expected


@pytest.mark.parametrize("given", ["256Mi", "33Gi", "1G", "1.5Gi", "512", 512, "0Gi"])
def test_memory_refuses_other_values(given: object) -> None:
    with pytest.raises(ValueError, match=r"from 512Mi to 32Gi"):
        normalize_memory(given)


@pytest.mark.parametrize(
    ("given", "expected"), [("600s", 600), ("20m", 1200), ("1h", 3600), ("1h30m", 5400), (90, 90), ("1m30s", 90)]
)
def test_durations(given: object, expected: int) -> None:
    assert parse_duration(given, low=60, high=86400) == expected


@pytest.mark.parametrize("given", ["59s", "25h", "10", "ten minutes", "", "5d", 3.5, True])
def test_build_timeout_limits(given: object) -> None:
    errors = _errors(BuildConfig, {"timeout": given})
    assert errors[0]["loc"] == ("timeout",)
    assert "between 60s and 86400s" in errors[0]["msg"]


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


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("project", "my-proj", True),
        ("project", "my-project-123456", True),
        ("project", "short", False),
        ("project", "My-Proj", False),
        ("project", "my-proj-", False),
        ("project", "1my-proj", False),
        ("project", "a" * 31, False),
        ("region", "europe-west4", True),
        ("region", "us-central1", True),
        ("region", "europe-west4-a", False),
        ("region", "europe", False),
        ("repository", "deployer", True),
        ("repository", "a", True),
        ("repository", "my-repo-", False),
        ("repository", "My_repo", False),
        ("repository", "a" * 64, False),
    ],
)
def test_top_level_ids(field: str, value: str, ok: bool) -> None:
    if ok:
        assert getattr(FileConfig.model_validate({field: value}), field) == value
    else:
        assert _errors(FileConfig, {field: value})[0]["loc"] == (field,)


def test_service_account_must_look_like_an_email() -> None:
    assert ServiceConfig.model_validate({"service_account": "run@p.iam.gserviceaccount.com"}).service_account
    assert _errors(ServiceConfig, {"service_account": "runner"})[0]["loc"] == ("service_account",)


def test_machine_type_is_one_of_the_known() -> None:
    assert BuildConfig.model_validate({"machine_type": "E2_HIGHCPU_8"}).machine_type == "E2_HIGHCPU_8"
    assert _errors(BuildConfig, {"machine_type": "E2_HUGE"})[0]["type"] == "literal_error"


def test_models_are_frozen_and_closed() -> None:
    service = ServiceConfig()
    with pytest.raises(ValidationError):
        service.port = 9000  # type: ignore[misc]
    assert _errors(ServiceConfig, {"memmory": "1Gi"})[0]["type"] == "extra_forbidden"


def test_schema_describes_the_file() -> None:
    schema = config_schema()
    assert set(schema["properties"]) == {"project", "region", "repository", "build", "services", "vms", "bootstrap"}
    service = schema["$defs"]["ServiceConfig"]
    assert service["additionalProperties"] is False
    assert "memory" in service["properties"]
    assert schema["$defs"]["BuildConfig"]["properties"]["machine_type"]["enum"][1] == "E2_HIGHCPU_8"
