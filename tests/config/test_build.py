"""Pure tier: ``[build]``: its defaults and limits."""

from __future__ import annotations

import pytest

from deployer.config import BuildConfig
from tests.config import validation_errors as _errors


def test_build_defaults() -> None:
    assert BuildConfig().model_dump(mode="json") == {
        "max_context_mb": 500,
        "timeout": 1200,
        "machine_type": "",
        "source_retention_days": 30,
        "allow_credential_files": [],
    }


@pytest.mark.parametrize("given", [0, -1, 3651, "30", 2.5, True])
def test_source_retention_is_a_whole_number_of_days_from_1_to_3650(given: object) -> None:
    errors = _errors(BuildConfig, {"source_retention_days": given})
    assert errors[0]["loc"] == ("source_retention_days",)


@pytest.mark.parametrize("given", ["59s", "25h", "10", "ten minutes", "", "5d", 3.5, True])
def test_build_timeout_limits(given: object) -> None:
    errors = _errors(BuildConfig, {"timeout": given})
    assert errors[0]["loc"] == ("timeout",)
    assert "between 60s and 86400s" in errors[0]["msg"]


def test_machine_type_is_one_of_the_known() -> None:
    assert BuildConfig.model_validate({"machine_type": "E2_HIGHCPU_8"}).machine_type == "E2_HIGHCPU_8"
    assert _errors(BuildConfig, {"machine_type": "E2_HUGE"})[0]["type"] == "literal_error"
