"""Fixtures shared by every tier: a real emulator process, an isolated environment, engine detection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from deployer.services.local_emulator import LocalEmulator

REPO_ROOT = Path(__file__).resolve().parent.parent


def _engine_available() -> str | None:
    choice = os.environ.get("DEPLOYER_EMULATOR_ENGINE")
    if choice == "none":
        return None
    for name in [choice] if choice else ["podman", "docker"]:
        binary = shutil.which(name)
        if binary and subprocess.run([binary, "info"], capture_output=True, check=False).returncode == 0:
            return name
    return None


ENGINE = _engine_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_engine = pytest.mark.skip(reason="no container engine (podman or docker) answers `info` on this machine")
    no_gcloud = pytest.mark.skip(reason="gcloud is not installed: cross-client checks need it")
    live = pytest.mark.skip(reason="live Google Cloud tests are opt-in: pass --run-gcp with real credentials")
    for item in items:
        # get_closest_marker, not keywords: keywords also hold directory names (tests/gcp is not a live test).
        if item.get_closest_marker("containers") and ENGINE is None:
            item.add_marker(no_engine)
        if item.get_closest_marker("gcloud") and shutil.which("gcloud") is None:
            item.add_marker(no_gcloud)
        if item.get_closest_marker("gcp") and not config.getoption("--run-gcp"):
            item.add_marker(live)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gcp", action="store_true", help="run the tests marked gcp against real Google Cloud")


class EmulatorHandle:
    """A running emulator process, with the admin calls tests use to look at what it recorded."""

    def __init__(self, process: LocalEmulator) -> None:
        self.process = process
        self.url = process.url
        self.engine = process.engine
        self._mark = 0

    def mark(self) -> None:
        """Forget the requests so far: ``requests()`` then returns only what comes after."""
        self._mark += len(self.requests())

    def requests(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/_emulator/requests", params={"since": self._mark}, timeout=10)
        response.raise_for_status()
        return list(response.json()["requests"])

    def mutating_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["mutating"]]

    def add_fault(self, **fault: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=fault, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=10).raise_for_status()

    def settings(self, **values: Any) -> None:
        requests.patch(f"{self.url}/_emulator/settings", json=values, timeout=10).raise_for_status()

    def state(self) -> dict[str, Any]:
        """Every resource the emulator holds, by table."""
        response = requests.get(f"{self.url}/_emulator/state", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def as_caller(self, member: str) -> requests.Session:
        """A session whose requests speak for ``member`` (``user:a@x.com``, ``serviceAccount:...``): the
        emulator's bearer token form, ``emulator:<member>``."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer emulator:{member}"
        return session


def caller_credentials(member: str) -> Any:
    """google-auth credentials that carry ``member`` to the emulator, for the client libraries."""
    from google.oauth2.credentials import Credentials

    return Credentials(token=f"emulator:{member}")  # type: ignore[no-untyped-call]


def _start(tmp: Path, engine: str | None, world: str = "open", scenario: Path | None = None) -> LocalEmulator:
    env = {"DEPLOYER_EMULATOR_ENGINE": engine or "none"}
    return LocalEmulator(state_dir=tmp / "state", world=world, scenario=scenario, env=env).start()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """One engine-less emulator for the session: fast, deterministic; builds are recorded as not executed."""
    process = _start(tmp_path_factory.mktemp("emulator"), None)
    try:
        yield EmulatorHandle(process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def engine_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """An emulator that really builds and runs images through the local engine (container tier)."""
    if ENGINE is None:
        pytest.skip("no container engine (podman or docker) answers `info` on this machine")
    process = _start(tmp_path_factory.mktemp("emulator-engine"), ENGINE)
    try:
        yield EmulatorHandle(process)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def strict_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[dict[str, Any]], EmulatorHandle]]:
    """Start engine-less strict-world emulators seeded from scenario dicts (the format in docs/emulator.md); each
    runs until the test module ends. Act as a caller with ``handle.as_caller(member)`` or
    ``caller_credentials(member)``."""
    started: list[LocalEmulator] = []

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


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config leaks in: HOME, gcloud config, DEPLOYER_* and terminal settings are pinned."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith(("DEPLOYER_", "CLOUDSDK_", "GOOGLE_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    return home
