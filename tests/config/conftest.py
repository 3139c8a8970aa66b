"""Fixtures of the config tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory that is also the working directory, so messages say "deployer.toml: ..."."""
    directory = tmp_path / "proj"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory
