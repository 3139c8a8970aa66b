"""Pure tier: the checks every section shares: cpu, memory and duration parsing."""

from __future__ import annotations

import pytest

from deployer.config import ServiceConfig
from deployer.config.checks import normalize_cpu, normalize_memory, parse_duration


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
