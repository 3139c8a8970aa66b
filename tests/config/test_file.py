"""Pure tier: the whole file: top-level settings, their ids, and the JSON schema."""

from __future__ import annotations

import pytest

from deployer.config import FileConfig, config_schema
from tests.config import validation_errors as _errors


def test_file_defaults_leave_top_level_unset() -> None:
    config = FileConfig()
    assert (config.project, config.region, config.repository) == (None, None, None)
    assert config.services == {}


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


def test_schema_describes_the_file() -> None:
    schema = config_schema()
    assert set(schema["properties"]) == {
        "project",
        "region",
        "repository",
        "build",
        "services",
        "vms",
        "jobs",
        "bootstrap",
    }
    assert schema["$defs"]["JobConfig"]["additionalProperties"] is False
    service = schema["$defs"]["ServiceConfig"]
    assert service["additionalProperties"] is False
    assert "memory" in service["properties"]
    assert schema["$defs"]["BuildConfig"]["properties"]["machine_type"]["enum"][1] == "E2_HIGHCPU_8"
