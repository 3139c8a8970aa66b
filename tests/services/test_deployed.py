"""Emulator tier: a deploy tags the image it deployed (services/deployed.py), and bootstrap's cleanup policies, run
by the emulator as Artifact Registry would, delete an old build but never the image a service serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.artifactregistry import cleanup_policies
from deployer_emulator.testing import EmulatorHandle
from tests.cli.test_deploy_cmd import REGION, deploy_json, invoke, make_project, run_client

WEEK_S = 7 * 86400


def _build(emulator: EmulatorHandle, directory: Path, version: str) -> dict[str, Any]:
    (directory / "app.py").write_text(f"print({version!r})\n")
    result = invoke(emulator, "build", "-C", str(directory), "--json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_cleanup_deletes_an_old_build_and_keeps_the_serving_image(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    old = _build(emulator, directory, "v0")
    (directory / "app.py").write_text("print('v1')\n")
    serving = deploy_json(emulator, directory)
    newest = _build(emulator, directory, "v2")
    monkeypatch.setenv("DEPLOYER_EMULATOR_URL", emulator.url)
    registry = GoogleCloud().artifact_registry
    assert registry.tag_digest(project, REGION, "deployer", "api", "deployed-run-api") == serving["digest"]

    # Bootstrap's policies, keeping the two most recent versions (the newest build and `latest`): the serving
    # image is older than those, and a month later every build tag is past the week.
    registry.set_cleanup_policies(project, REGION, "deployer", cleanup_policies(2, WEEK_S))
    repository = f"projects/{project}/locations/{REGION}/repositories/deployer"
    deleted = emulator.run_cleanup(repository, days_later=30)

    digests = [name.rsplit("@", 1)[1] for name in deleted]
    assert old["digest"] in digests
    assert serving["digest"] not in digests
    assert newest["digest"] not in digests
    for kept in (serving["build"], newest):
        assert registry.tag_digest(project, REGION, "deployer", "api", kept["tag"]) == kept["digest"]
    service = run_client(emulator).get_service(name=f"{repository.split('/repositories/')[0]}/services/api")
    assert service.template.containers[0].image.endswith(f"@{serving['digest']}")


def test_a_redeploy_moves_the_deployed_tag_to_the_new_image(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = make_project(tmp_path / "app")
    digests = [deploy_json(emulator, tmp_path / "app")["digest"]]
    emulator.mark()
    (tmp_path / "app" / "app.py").write_text("print('again')\n")
    digests.append(deploy_json(emulator, tmp_path / "app")["digest"])
    tag = f"/v1/projects/{project}/locations/{REGION}/repositories/deployer/packages/api/tags/deployed-run-api"
    calls = [(r["method"], r["mutating"]) for r in emulator.requests() if r["path"] == tag]
    # One read, then the move (UpdateTag) to the new image.
    assert calls == [("GET", False), ("PATCH", True)]
    assert digests[0] != digests[1]
    tags = requests.get(f"{emulator.url}{tag.rsplit('/tags/', 1)[0]}/tags", timeout=10).json()["tags"]
    assert {t["name"].rsplit("/", 1)[-1]: t["version"].rsplit("/", 1)[-1] for t in tags}["deployed-run-api"] == digests[
        1
    ]
