"""Pure tier: `deployer init` — what each template writes, what it keeps, and that every deployer.toml it writes
loads with the real config loader."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from deployer.config import load_config
from deployer.errors import BadInput
from deployer.services.init import (
    PYPROJECT_INSTALL,
    REQUIREMENTS_INSTALL,
    TEMPLATES,
    default_branch,
    default_name,
    init_project,
    template_files,
)

EVERY_FILE = ["Dockerfile", "requirements.txt", ".dockerignore", "deployer.toml"]


def _actions(result: object) -> dict[str, str]:
    return {f.path: f.action for f in result.files}  # type: ignore[attr-defined]


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_writes_a_config_that_loads(tmp_path: Path, template: str) -> None:
    result = init_project(tmp_path, template_name=template, name="worker", project="my-proj", region="europe-west4")
    spec = TEMPLATES[template]
    assert _actions(result) == {path: "written" for path in [*EVERY_FILE, spec.app_file]}
    config = load_config(tmp_path, environ={})
    assert config.project.value == "my-proj"
    assert config.region.value == "europe-west4"
    targets = {"services": config.services, "vms": config.vms, "jobs": config.jobs}[spec.target]
    assert list(targets) == ["worker"]
    # The dependency lines the pyproject variant replaces are in every Dockerfile, before the code is copied.
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert dockerfile.index(REQUIREMENTS_INSTALL) < dockerfile.index("COPY . .")


def test_without_project_and_region_the_config_leaves_them_to_the_environment(tmp_path: Path) -> None:
    init_project(tmp_path, name="api")
    text = (tmp_path / "deployer.toml").read_text()
    assert '# project = "my-project"' in text
    config = load_config(tmp_path, environ={"DEPLOYER_PROJECT": "env-proj", "DEPLOYER_REGION": "us-central1"})
    assert (config.project.value, config.region.value) == ("env-proj", "us-central1")
    service = config.services["api"]
    assert (service.port, service.public, service.max_instances) == (8080, False, 3)


def test_the_templates_ship_as_package_data() -> None:
    for template in TEMPLATES.values():
        names = {entry.name for entry in template_files(template.name).iterdir()}
        assert {"Dockerfile", "requirements.txt", ".dockerignore", "deployer.toml", template.app_file} <= names


def test_existing_files_are_kept_unless_forced_and_dependency_files_always(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\n")
    (tmp_path / "app.py").write_text("print('mine')\n")
    (tmp_path / "requirements.txt").write_text("fastapi==0.110.0\nuvicorn[standard]>=0.30  # server\n")
    kept = init_project(tmp_path, name="api")
    assert _actions(kept) == {
        "Dockerfile": "skipped",
        "requirements.txt": "skipped",
        ".dockerignore": "written",
        "app.py": "skipped",
        "deployer.toml": "written",
    }
    reasons = {f.path: f.reason for f in kept.files}
    assert reasons["Dockerfile"] == "exists (--force overwrites it)"
    assert "installs from it" in reasons["requirements.txt"]
    assert kept.notes == []  # fastapi and uvicorn are listed
    assert (tmp_path / "Dockerfile").read_text() == "FROM python:3.12-slim\n"
    again = init_project(tmp_path, name="api")
    assert _actions(again)[".dockerignore"] == "unchanged"
    forced = init_project(tmp_path, name="api", force=True)
    assert _actions(forced)["Dockerfile"] == "overwritten"
    assert _actions(forced)["requirements.txt"] == "skipped"
    assert (tmp_path / "requirements.txt").read_text().startswith("fastapi==0.110.0")
    assert REQUIREMENTS_INSTALL in (tmp_path / "Dockerfile").read_text()


def test_a_requirements_file_without_the_templates_packages_gets_a_note(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy==2.1.0\n")
    result = init_project(tmp_path, name="api")
    assert len(result.notes) == 1
    assert "fastapi, uvicorn" in result.notes[0]


def test_a_pyproject_project_installs_its_dependencies_before_the_code(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nversion = "1"\ndependencies = ["fastapi==0.165.0", "uvicorn==0.54.0"]\n'
    )
    result = init_project(tmp_path, name="api")
    assert _actions(result)["requirements.txt"] == "skipped"
    assert not (tmp_path / "requirements.txt").exists()
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert PYPROJECT_INSTALL in dockerfile
    assert REQUIREMENTS_INSTALL not in dockerfile
    assert dockerfile.index(PYPROJECT_INSTALL) < dockerfile.index("COPY . .")
    assert result.notes == []
    # The install line, run by a shell as the build runs it, lists the dependencies.
    command = dockerfile.split("RUN ", 2)[2].split(" > /tmp/requirements.txt", 1)[0]
    listed = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert listed.stdout.split() == ["fastapi==0.165.0", "uvicorn==0.54.0"]


def test_a_pyproject_with_tool_deployer_keeps_its_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n\n[tool.deployer.services.api]\n')
    result = init_project(tmp_path, name="api")
    assert _actions(result)["deployer.toml"] == "skipped"
    assert "[tool.deployer]" in {f.path: f.reason for f in result.files}["deployer.toml"]


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match='--template "flask"'):
        init_project(tmp_path, template_name="flask")
    with pytest.raises(BadInput, match='--service "Bad_Name"'):
        init_project(tmp_path, name="Bad_Name")
    with pytest.raises(BadInput, match="at most 49"):
        init_project(tmp_path, name="a" * 50)
    with pytest.raises(BadInput, match='--project "X"'):
        init_project(tmp_path, project="X")
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        init_project(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["pyproject.toml"]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = init_project(tmp_path, name="api", github=True, dry_run=True)
    assert result.dry_run
    assert set(_actions(result).values()) == {"written"}
    assert list(tmp_path.iterdir()) == []


def test_names_come_from_the_directory(tmp_path: Path) -> None:
    assert default_name(tmp_path / "My_Model API") == "my-model-api"
    assert default_name(tmp_path / "2024") == "app"
    assert default_name(tmp_path / ("x" * 80)) == "x" * 49
    assert default_name(tmp_path / ("x" * 80), "vms") == "x" * 63


def test_the_workflow_deploys_the_repositorys_default_branch(tmp_path: Path) -> None:
    assert default_branch(tmp_path) == "main"  # not a git repository
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(tmp_path)], check=True)
    assert default_branch(tmp_path) == "trunk"
    result = init_project(tmp_path, name="api", github=True)
    assert _actions(result)[".github/workflows/deploy.yml"] == "written"
    text = (tmp_path / ".github" / "workflows" / "deploy.yml").read_text()
    assert "branches: [trunk]" in text
    assert "deployer deploy api --yes --json" in text
    assert "__" not in text  # every placeholder filled in
    job = tmp_path / "job"
    job.mkdir()
    init_project(job, template_name="batch-job")
    assert not (job / ".github").exists()  # only with --github


def test_the_dockerignore_keeps_data_models_venvs_caches_and_secrets_out(tmp_path: Path) -> None:
    from deployer.services.context import select_context

    init_project(tmp_path, name="api")
    for name in [
        "data/train.csv", "models/big.safetensors", ".venv/bin/python", "__pycache__/app.cpython-311.pyc",
        "weights.pt", ".env", "key.pem", "my-service-account.json", ".git/HEAD", "src/lib.py",
    ]:  # fmt: skip
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    summary = select_context(tmp_path, tmp_path / "Dockerfile")
    assert summary.ignore_file == ".dockerignore"
    assert sorted(f.path for f in summary.files) == [
        ".dockerignore", "Dockerfile", "app.py", "requirements.txt", "src/lib.py",
    ]  # fmt: skip
    assert tomllib.loads((tmp_path / "deployer.toml").read_text())["services"]["api"]["port"] == 8080


def test_the_workflow_installs_this_deployer_by_its_distribution_name_pinned(tmp_path: Path) -> None:
    from importlib import metadata

    from deployer import __version__

    init_project(tmp_path, template_name="python-api", github=True)
    workflow = (tmp_path / ".github" / "workflows" / "deploy.yml").read_text()
    assert f'DEPLOYER_VERSION: "{__version__}"' in workflow
    assert 'pip install "gcp-deployer==$DEPLOYER_VERSION"' in workflow
    assert "PIP_SPEC" not in workflow  # no user-set spec: nothing but our own name is ever installed
    assert metadata.metadata("gcp-deployer")["Name"] == "gcp-deployer"  # the name the workflow installs is ours
