"""Fixtures shared by every tier of deployer's tests: the emulator's (started the one way the emulator's own
suite starts it), an isolated environment, and the opt-in live tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["deployer_emulator.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gcp", action="store_true", help="run the tests marked gcp against real Google Cloud")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    live = pytest.mark.skip(reason="live Google Cloud tests are opt-in: pass --run-gcp with real credentials")
    for item in items:
        if item.get_closest_marker("gcp") and not config.getoption("--run-gcp"):
            item.add_marker(live)


@pytest.fixture(scope="session", autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """deployer caches file hashes in the user's cache dir: the suite keeps its own, never the machine user's."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config leaks in: HOME, gcloud config, DEPLOYER_* and terminal settings are pinned."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith(("DEPLOYER_", "CLOUDSDK_", "GOOGLE_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)  # the cache follows the pinned HOME
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    return home
