"""Emulator tier: `deployer demo` on a machine with no container engine tells the truth about it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deployer.services.demo import install_engine_command, no_engine_line


def test_demo_without_an_engine_deploys_and_says_nothing_runs(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "CI": "1", "HOME": str(tmp_path), "DEPLOYER_EMULATOR_ENGINE": "none"}
    result = subprocess.run(
        [sys.executable, "-m", "deployer", "demo"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert lines["Service URL"].strip().startswith("http://127.0.0.1:")
    assert "no container engine" in lines["Answer"]
    assert "no container engine" in result.stderr
    # One line says what the demo could not show and how to get an engine on this machine.
    expected = no_engine_line()
    assert f"warning: {expected}" in result.stderr.splitlines()
    assert lines["Not shown"].strip() == expected
    assert install_engine_command() in expected
    assert "the image was not built and the app did not run" in expected


def test_demo_json_reports_the_deploy(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "CI": "1", "HOME": str(tmp_path), "DEPLOYER_EMULATOR_ENGINE": "none"}
    result = subprocess.run(
        [sys.executable, "-m", "deployer", "demo", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["engine"] is None
    assert doc["status"] == 503
    assert doc["not_shown"] == no_engine_line()
    assert doc["deploy"]["service"] == "hello"
    assert doc["deploy"]["digest"].startswith("sha256:")


@pytest.mark.parametrize(
    ("system", "os_release", "command"),
    [
        ("Linux", 'NAME="Debian GNU/Linux"\nID=debian\n', "sudo apt-get install podman"),
        ("Linux", "ID=ubuntu\nID_LIKE=debian\n", "sudo apt-get install podman"),
        ("Linux", 'ID=linuxmint\nID_LIKE="ubuntu debian"\n', "sudo apt-get install podman"),
        ("Darwin", "", "brew install podman && podman machine init && podman machine start"),
        ("Linux", "ID=fedora\n", "install podman: https://podman.io/docs/installation"),
        ("Windows", "", "install podman: https://podman.io/docs/installation"),
    ],
)
def test_the_install_command_fits_the_system(system: str, os_release: str, command: str) -> None:
    assert install_engine_command(system, os_release) == command
    line = no_engine_line(system, os_release)
    assert "\n" not in line
    assert command in line
