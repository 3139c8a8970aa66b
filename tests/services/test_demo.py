"""`deployer demo` (services/demo.py) and the sample app it deploys. Emulator tier without an engine: it tells the truth
about what it could not run. Container tier (marked): the sample app's Dockerfile really built by Cloud Build and
really served by Cloud Run, through the emulator and the local engine (podman in CI); the base image
`python:3.12-slim` is, on machines that cannot pull (CI), a local Debian Python stand-in made by tests/setup.sh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer.services.demo import install_engine_command, no_engine_line
from deployer_emulator.testing import EmulatorHandle


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


SAMPLE_APP = Path(__file__).resolve().parents[2] / "deployer" / "sample_app"


@pytest.mark.containers
def test_sample_app_is_built_and_served_at_the_service_url(engine_emulator: EmulatorHandle, tmp_path: Path) -> None:
    project_dir = tmp_path / "sample"
    shutil.copytree(SAMPLE_APP, project_dir)
    env = {"DEPLOYER_EMULATOR_URL": engine_emulator.url, "NO_COLOR": "1", "CI": "1"}
    result = CliRunner().invoke(app, ["deploy", "-C", str(project_dir), "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # The build log streamed to stderr carries the engine's real output.
    assert "STEP 1/" in result.stderr or "Step 1/" in result.stderr
    answer = requests.get(doc["url"], timeout=30)
    assert answer.status_code == 200
    body = answer.json()
    assert body["message"] == "Hello from deployer's sample app"
    assert body["greeting"] == "hello from the demo"
    assert body["service"] == "hello"
    assert body["revision"] == doc["revision"]

    # A code change: rebuilt, redeployed, same URL, new answer.
    app_py = project_dir / "app.py"
    app_py.write_text(app_py.read_text().replace("Hello from deployer's sample app", "Hello again"))
    second = CliRunner().invoke(app, ["deploy", "-C", str(project_dir), "--json"], env=env, catch_exceptions=False)
    assert second.exit_code == 0, second.stderr
    redeployed = json.loads(second.stdout)
    assert redeployed["url"] == doc["url"]
    assert redeployed["revision"] != doc["revision"]
    assert requests.get(doc["url"], timeout=30).json()["message"] == "Hello again"


@pytest.mark.containers
def test_container_that_does_not_listen_fails_the_revision_and_keeps_traffic(
    engine_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    project_dir = tmp_path / "sample"
    shutil.copytree(SAMPLE_APP, project_dir)
    env = {"DEPLOYER_EMULATOR_URL": engine_emulator.url, "NO_COLOR": "1", "CI": "1"}
    toml = project_dir / "deployer.toml"
    toml.write_text(toml.read_text().replace('project = "deployer-demo"', 'project = "deployer-broken"'))
    good = CliRunner().invoke(app, ["deploy", "-C", str(project_dir), "--json"], env=env, catch_exceptions=False)
    assert good.exit_code == 0, good.stderr
    url = json.loads(good.stdout)["url"]
    # The app now exits at once instead of listening on $PORT.
    (project_dir / "app.py").write_text("import sys\nprint('crashing on purpose')\nsys.exit(3)\n")
    bad = CliRunner().invoke(app, ["deploy", "-C", str(project_dir)], env=env, catch_exceptions=False)
    assert bad.exit_code == 1
    assert "failed to start and listen on the port" in bad.stderr
    assert "$PORT" in bad.stderr
    assert requests.get(url, timeout=30).json()["message"] == "Hello from deployer's sample app"


@pytest.mark.containers
def test_demo_prints_the_url_and_the_apps_answer(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "CI": "1", "HOME": str(tmp_path)}
    env.pop("DEPLOYER_EMULATOR_ENGINE", None)
    result = subprocess.run(
        [sys.executable, "-m", "deployer", "demo", "--json"], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["engine"] in ("podman", "docker")
    assert doc["status"] == 200
    assert json.loads(doc["answer"])["message"] == "Hello from deployer's sample app"
    # Everything it started is stopped: the URL no longer answers.
    with pytest.raises(requests.ConnectionError):
        requests.get(doc["url"], timeout=5)


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
