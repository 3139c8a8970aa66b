"""Live (opt-in): canary, rollback, a kept split, --to-latest, a split, tags and destroy against a real project.

Run with ``pytest -m gcp --run-gcp tests/services/test_traffic_live.py`` and Application Default Credentials that
may deploy Cloud Run services; ``DEPLOYER_LIVE_PROJECT`` and ``DEPLOYER_LIVE_REGION`` name where. It deploys
Google's public hello image as a service named ``deployer-live-traffic-…`` and destroys it at the end.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deployer.cli.app import app

IMAGE = "us-docker.pkg.dev/cloudrun/container/hello"

pytestmark = pytest.mark.gcp


@pytest.fixture
def where() -> tuple[str, str]:
    project, region = os.environ.get("DEPLOYER_LIVE_PROJECT"), os.environ.get("DEPLOYER_LIVE_REGION")
    if not project or not region:
        pytest.skip("set DEPLOYER_LIVE_PROJECT and DEPLOYER_LIVE_REGION to run the live traffic test")
    return project, region


def _run(directory: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "-C", str(directory)], env={"CI": "1"}, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr + result.stdout
    return result


def _configure(directory: Path, where: tuple[str, str], name: str, greeting: str) -> None:
    project, region = where
    (directory / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{region}"\n\n[services.{name}]\nenv = {{ GREETING = "{greeting}" }}\n'
    )


def test_canary_rollback_kept_split_to_latest_and_destroy(where: tuple[str, str], tmp_path: Path) -> None:
    name = f"deployer-live-traffic-{uuid.uuid4().hex[:6]}"
    _configure(tmp_path, where, name, "one")
    try:
        old = json.loads(_run(tmp_path, "deploy", name, "--image", IMAGE, "--yes", "--json").stdout)
        _configure(tmp_path, where, name, "two")
        canary = json.loads(_run(tmp_path, "deploy", name, "--image", IMAGE, "--canary", "10", "--json").stdout)
        assert canary["traffic_percent"] == 10
        _run(tmp_path, "rollback", name, "--yes")
        shown = json.loads(_run(tmp_path, "traffic", name, "--json").stdout)
        assert [(s["revision"], s["percent"]) for s in shown["after"] if s["percent"]] == [(old["revision"], 100)]
        _configure(tmp_path, where, name, "three")
        kept = json.loads(_run(tmp_path, "deploy", name, "--image", IMAGE, "--yes", "--json").stdout)
        assert kept["traffic_percent"] == 0
        assert kept["kept_split"]
        _run(tmp_path, "traffic", name, "--split", f"{old['revision']}=50,latest=50", "--tag", "latest=edge", "--yes")
        status = json.loads(_run(tmp_path, "status", name, "--json").stdout)
        assert any(s["tag"] == "edge" and s["url"] for s in status["traffic"])
        _run(tmp_path, "traffic", name, "--untag", "edge", "--to-latest", "--yes")
        _configure(tmp_path, where, name, "four")
        assert (
            json.loads(_run(tmp_path, "deploy", name, "--image", IMAGE, "--yes", "--json").stdout)["traffic_percent"]
            == 100
        )
    finally:
        CliRunner().invoke(app, ["destroy", name, "--yes", "-C", str(tmp_path)], env={"CI": "1"})
    gone = json.loads(_run(tmp_path, "status", name, "--json").stdout)
    assert gone["exists"] is False
