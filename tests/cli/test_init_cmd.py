"""`deployer init` through the CLI, then `deployer deploy` of what it wrote: against the emulator (the emulator
tier), and with a container engine, serving the template's answer at the printed URL (the container tier)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer_emulator.testing import EmulatorHandle

REGION = "europe-west4"


def invoke(*args: str, emulator: EmulatorHandle | None = None) -> Any:
    env = {"NO_COLOR": "1", "CI": "1"}
    if emulator is not None:
        env["DEPLOYER_EMULATOR_URL"] = emulator.url
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def _project() -> str:
    return f"init-{uuid.uuid4().hex[:10]}"


def _build_request(emulator: EmulatorHandle, project: str) -> dict[str, Any]:
    posts = [
        r
        for r in emulator.requests()
        if r["method"] == "POST" and r["path"] == f"/v1/projects/{project}/locations/{REGION}/builds"
    ]
    assert len(posts) == 1
    return posts[0]


def test_list_shows_every_template() -> None:
    result = invoke("init", "--list")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["python-api", "gpu-pytorch", "batch-job"]
    listed = json.loads(invoke("init", "--list", "--json").stdout)
    assert {t["name"]: t["target"] for t in listed["templates"]} == {
        "python-api": "services",
        "gpu-pytorch": "services",
        "batch-job": "jobs",
    }


def test_init_prints_what_it_wrote_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('mine')\n")
    result = invoke("init", "-C", str(tmp_path), "--service", "api")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "written         Dockerfile" in lines
    assert "skipped         app.py: exists (--force overwrites it)" in lines
    assert lines[-1] == "Template python-api, service api. Next: `deployer lint`, then `deployer deploy`."
    assert (tmp_path / "app.py").read_text() == "print('mine')\n"


def test_bad_template_is_exit_2(tmp_path: Path) -> None:
    result = invoke("init", "-C", str(tmp_path), "--template", "django", "--json")
    assert result.exit_code == 2
    assert "python-api, gpu-pytorch, batch-job" in json.loads(result.stdout)["error"]["message"]
    assert list(tmp_path.iterdir()) == []


def test_init_in_an_empty_directory_then_deploy(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = _project()
    written = invoke("init", "-C", str(tmp_path), "-s", "api", "-p", project, "-r", REGION, "--json")
    assert written.exit_code == 0, written.stderr
    assert json.loads(written.stdout)["written"] == [
        "Dockerfile", "requirements.txt", ".dockerignore", "app.py", "deployer.toml",
    ]  # fmt: skip
    emulator.mark()
    deployed = invoke("deploy", "-C", str(tmp_path), "--json", emulator=emulator)
    assert deployed.exit_code == 0, deployed.stderr
    doc = json.loads(deployed.stdout)
    assert doc["service"] == "api"
    assert doc["url"]
    assert doc["preview"] is False
    # The build is the template's Dockerfile; the context went up without deployer.toml (the .dockerignore).
    assert _build_request(emulator, project)["status"] == 200
    build_url = f"{emulator.url}/v1/projects/{project}/locations/{REGION}/builds/{doc['build']['build_id']}"
    build = requests.get(build_url, timeout=10).json()
    assert build["steps"][0]["args"][:3] == ["build", "-f", "Dockerfile"]
    assert doc["build"]["context"]["files"] == 4  # Dockerfile, .dockerignore, app.py, requirements.txt
    service = requests.get(f"{emulator.url}/v2/projects/{project}/locations/{REGION}/services/api", timeout=10).json()
    container = service["template"]["containers"][0]
    assert container["ports"][0]["containerPort"] == 8080
    assert container["image"] == f"{doc['image']}@{doc['digest']}"


def test_init_with_the_projects_requirements_then_deploy(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = _project()
    requirements = "fastapi==0.115.6\nuvicorn==0.34.0\nnumpy==2.1.3\n"
    (tmp_path / "requirements.txt").write_text(requirements)
    written = invoke("init", "-C", str(tmp_path), "-s", "api", "-p", project, "-r", REGION)
    assert written.exit_code == 0, written.stderr
    assert "skipped         requirements.txt: the project's own: the Dockerfile installs from it" in written.stdout
    assert (tmp_path / "requirements.txt").read_text() == requirements
    deployed = invoke("deploy", "-C", str(tmp_path), "--json", emulator=emulator)
    assert deployed.exit_code == 0, deployed.stderr
    doc = json.loads(deployed.stdout)
    # The uploaded source carries the project's own requirements.txt, the one the Dockerfile installs.
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.url}
    )
    bucket, _, archive = doc["build"]["context"]["object"].removeprefix("gs://").partition("/")
    assert bucket == f"{project}_{REGION}_cloudbuild"
    data = client.bucket(bucket).blob(archive).download_as_bytes()
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile("requirements.txt")
        assert member is not None
        assert member.read().decode() == requirements


@pytest.mark.containers
def test_python_api_with_github_serves_the_templates_answer(engine_emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = _project()
    written = invoke("init", "--template", "python-api", "--github", "-C", str(tmp_path), "-p", project, "-r", REGION)
    assert written.exit_code == 0, written.stderr
    assert (tmp_path / ".github" / "workflows" / "deploy.yml").is_file()
    deployed = invoke("deploy", "-C", str(tmp_path), "--yes", emulator=engine_emulator)
    assert deployed.exit_code == 0, deployed.stderr
    name = tmp_path.name.replace("_", "-")
    url = next(line.split(": ", 1)[1] for line in deployed.stdout.splitlines() if line.startswith("Service "))
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["message"] == "Hello from the python-api template"
    assert body["service"] == name
    predicted = requests.post(f"{url}/predict", json={"inputs": [1, 2, 3]}, timeout=30).json()
    assert predicted == {"count": 3, "mean": 2.0}
