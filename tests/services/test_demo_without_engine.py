"""Emulator tier: `deployer demo` on a machine with no container engine tells the truth about it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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


def test_demo_json_reports_the_deploy(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "CI": "1", "HOME": str(tmp_path), "DEPLOYER_EMULATOR_ENGINE": "none"}
    result = subprocess.run(
        [sys.executable, "-m", "deployer", "demo", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["engine"] is None
    assert doc["status"] == 503
    assert doc["deploy"]["service"] == "hello"
    assert doc["deploy"]["digest"].startswith("sha256:")
