"""pytest fixtures for suites that test against the emulator: ``pytest_plugins = ["deployer_emulator.fixtures"]``.

The emulator's own tests and deployer's use the same ones, so an emulator is started in one way only
(``testing.EmulatorProcess``). Tests marked ``containers`` are skipped, with the reason, where no container engine
answers; tests marked ``gcloud`` where gcloud is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from deployer_emulator.testing import EmulatorHandle, EmulatorProcess, engine_available


def _use_test_engine_store() -> Path | None:
    """Point podman at the configuration and image store a test setup made (tests/setup.sh writes
    ``.test-engine/`` at the repository's top), so tests never use or fill the machine's own image store."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        store = folder / ".test-engine"
        if (store / "containers.conf").is_file() and (store / "storage.conf").is_file():
            os.environ.setdefault("CONTAINERS_CONF", str(store / "containers.conf"))
            os.environ.setdefault("CONTAINERS_STORAGE_CONF", str(store / "storage.conf"))
            return store
    return None


TEST_ENGINE_STORE = _use_test_engine_store()
ENGINE = engine_available()
BASE_IMAGE = "docker.io/library/python:3.12-slim"


def pytest_report_header(config: pytest.Config) -> list[str]:
    if ENGINE is None:
        return ["container engine: none answers `info` (the container tier is skipped)"]
    lines = [f"container engine: {ENGINE}" + (f", image store {TEST_ENGINE_STORE}" if TEST_ENGINE_STORE else "")]
    label = '{{index .Config.Labels "org.deployer.stand-in"}}'
    found = subprocess.run(
        [ENGINE, "image", "inspect", "--format", label, BASE_IMAGE], capture_output=True, text=True, check=False
    )
    if found.returncode == 0 and found.stdout.strip() not in ("", "<no value>"):
        lines.append(f"base image {BASE_IMAGE}: {found.stdout.strip()}")
    return lines


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "containers: needs a container engine (podman or docker); skipped with the reason when none"
    )
    config.addinivalue_line("markers", "gcloud: needs the gcloud CLI as an independent client; skipped when absent")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_engine = pytest.mark.skip(reason="no container engine (podman or docker) answers `info` on this machine")
    no_gcloud = pytest.mark.skip(reason="gcloud is not installed: cross-client checks need it")
    for item in items:
        # get_closest_marker, not keywords: keywords also hold directory names.
        if item.get_closest_marker("containers") and ENGINE is None:
            item.add_marker(no_engine)
        if item.get_closest_marker("gcloud") and shutil.which("gcloud") is None:
            item.add_marker(no_gcloud)


def _start(tmp: Path, engine: str | None, world: str = "open", scenario: Path | None = None) -> EmulatorProcess:
    env = {"DEPLOYER_EMULATOR_ENGINE": engine or "none"}
    return EmulatorProcess(state_dir=tmp / "state", world=world, scenario=scenario, env=env).start()


@contextmanager
def _running(folder: Path, engine: str | None) -> Iterator[EmulatorHandle]:
    process = _start(folder, engine)
    try:
        yield EmulatorHandle(process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """One engine-less emulator for the session: fast, deterministic; builds are recorded as not executed."""
    with _running(tmp_path_factory.mktemp("emulator"), None) as handle:
        yield handle


@pytest.fixture(scope="session")
def engine_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """An emulator that really builds and runs images through the local engine (container tier)."""
    if ENGINE is None:
        pytest.skip("no container engine (podman or docker) answers `info` on this machine")
    with _running(tmp_path_factory.mktemp("emulator-engine"), ENGINE) as handle:
        yield handle


@pytest.fixture(scope="module")
def strict_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[dict[str, Any]], EmulatorHandle]]:
    """Start engine-less strict-world emulators seeded from scenario dicts (the format in the emulator's README);
    each runs until the test module ends. Act as a caller with ``handle.as_caller(member)`` or
    ``testing.caller_credentials(member)``."""
    started: list[EmulatorProcess] = []

    def start(scenario: dict[str, Any]) -> EmulatorHandle:
        tmp = tmp_path_factory.mktemp("strict-emulator")
        path = tmp / "scenario.json"
        path.write_text(json.dumps(scenario))
        process = _start(tmp, None, "strict", path)
        started.append(process)
        return EmulatorHandle(process)

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest, strict_emulator: Callable[[dict[str, Any]], EmulatorHandle]
) -> EmulatorHandle:
    """A strict-world emulator seeded from the test module's ``SCENARIO`` dict, for the whole module."""
    return strict_emulator(request.module.SCENARIO)
