"""`deployer deploy --preview TAG`: a revision with a traffic tag and no traffic, its URL printed; what served before
keeps serving, and the next regular deploy serves the latest revision again.

Pure: the traffic and body builders as values. Emulator tier: the CLI against the emulator's Cloud Run, asserting on
the service as Google's client library reads it back and on the requests the emulator recorded.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer.errors import BadInput
from deployer.gcp.bodies.run import PREVIEW_PIN_LABEL
from deployer.services.deploy_run import check_preview_tag
from deployer_emulator.testing import EmulatorHandle

REGION = "europe-west4"

# --- pure -------------------------------------------------------------------------------------------------------------


def test_tags_follow_cloud_runs_rules() -> None:
    check_preview_tag("pr-123", "api")
    check_preview_tag("a" * 43, "api")  # 43 + 3 = 46
    for bad in ("pr", "PR-1", "1pr", "pr-", "pr_1", "a" * 44, ""):
        with pytest.raises(BadInput, match="traffic tag"):
            check_preview_tag(bad, "api")


# --- emulator -------------------------------------------------------------------------------------------------------


def _project_dir(directory: Path) -> str:
    project = f"pv-{uuid.uuid4().hex[:10]}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text('FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    (directory / "app.py").write_text("print('v1')\n")
    (directory / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n\n[services.api]\n')
    return project


def _deploy(emulator: EmulatorHandle, directory: Path, *extra: str) -> Any:
    env = {"DEPLOYER_EMULATOR_URL": emulator.url, "NO_COLOR": "1", "CI": "1"}
    return CliRunner().invoke(app, ["deploy", "-C", str(directory), *extra], env=env, catch_exceptions=False)


def _service(emulator: EmulatorHandle, project: str) -> run_v2.Service:
    client = run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    return client.get_service(name=f"projects/{project}/locations/{REGION}/services/api")


def test_preview_deploys_a_tagged_revision_with_no_traffic(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = _project_dir(tmp_path)
    first = _deploy(emulator, tmp_path, "--json")
    assert first.exit_code == 0, first.stderr
    live = json.loads(first.stdout)

    (tmp_path / "app.py").write_text("print('v2')\n")
    result = _deploy(emulator, tmp_path, "--preview", "pr-42", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["preview"] is True
    assert doc["tag"] == "pr-42"
    assert doc["revision"].startswith("api-pr-42-")
    assert doc["url"] != live["url"]

    service = _service(emulator, project)
    statuses = {s.tag: s for s in service.traffic_statuses}
    assert statuses["pr-42"].uri == doc["url"]
    assert statuses["pr-42"].percent == 0
    assert statuses["pr-42"].revision == doc["revision"]
    serving = [s for s in service.traffic_statuses if s.percent]
    assert [(s.revision, s.percent) for s in serving] == [(live["revision"], 100)]
    assert service.uri == live["url"]
    assert service.labels[PREVIEW_PIN_LABEL] == live["revision"]

    # The same preview again: nothing to change, nothing mutating sent.
    emulator.mark()
    again = _deploy(emulator, tmp_path, "--preview", "pr-42", "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["url"] == doc["url"]
    assert emulator.mutating_requests() == []

    # The text output prints the preview URL.
    (tmp_path / "app.py").write_text("print('v3')\n")
    text = _deploy(emulator, tmp_path, "--preview", "pr-42")
    assert text.exit_code == 0, text.stderr
    assert f"Preview pr-42 of api (no traffic): {doc['url']}" in text.stdout

    # A regular deploy serves the latest revision again, and the preview's tag stays.
    regular = _deploy(emulator, tmp_path, "--json")
    assert regular.exit_code == 0, regular.stderr
    deployed = json.loads(regular.stdout)
    service = _service(emulator, project)
    assert PREVIEW_PIN_LABEL not in service.labels
    assert [(t.type_, t.percent) for t in service.traffic if t.percent] == [
        (run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, 100)
    ]
    assert service.latest_ready_revision.endswith(deployed["revision"])
    assert "pr-42" in {s.tag for s in service.traffic_statuses}
    # And then a regular deploy over an unchanged world sends nothing mutating.
    emulator.mark()
    assert _deploy(emulator, tmp_path, "--json").exit_code == 0
    assert emulator.mutating_requests() == []


def test_a_preview_needs_the_service_to_exist(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = _project_dir(tmp_path)
    result = _deploy(emulator, tmp_path, "--preview", "pr-1", "--dry-run")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert "without --preview" in result.stderr
    paths = {r["path"] for r in emulator.mutating_requests()}
    assert not any(project in path for path in paths)


def test_a_bad_tag_is_refused_before_anything_is_sent(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = _project_dir(tmp_path)
    emulator.mark()
    result = _deploy(emulator, tmp_path, "--preview", "PR_1", "--json")
    assert result.exit_code == 2
    assert "traffic tag" in json.loads(result.stdout)["error"]["message"]
    assert not [r for r in emulator.requests() if project in r["path"]]
