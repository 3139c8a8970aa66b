"""Fixtures the Compute tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def settings(emulator: Any) -> Iterator[Any]:
    """Change Compute settings for one test; the session's emulator gets its defaults back afterwards."""
    yield emulator.settings
    emulator.settings(
        compute_exhausted_zones=[],
        compute_quota_overrides={},
        compute_clock_advance_s=0.0,
        compute_operation_s=0.2,
        compute_wait_timeout_s=120.0,
    )
