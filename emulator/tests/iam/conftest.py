"""The strict world the IAM tests run in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from iam_support import PROJECT, SCENARIO

from deployer_emulator.testing import EmulatorHandle


@pytest.fixture(scope="module")
def world(strict_emulator: Callable[[dict[str, Any]], EmulatorHandle]) -> EmulatorHandle:
    return strict_emulator(SCENARIO)


@pytest.fixture(scope="module")
def number(world: EmulatorHandle) -> str:
    return str(world.state()["resourcemanager.projects"][PROJECT]["name"].split("/")[1])
