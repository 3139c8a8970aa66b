"""``deployer init``: write a template's Dockerfile, app, dependency file, ``.dockerignore`` and ``deployer.toml``
(and, on request, a GitHub Actions workflow) into a project.

Nothing is overwritten without ``force``; the project's own dependency files (requirements.txt, pyproject.toml) are
never overwritten: the Dockerfile installs from what the project has. Everything is rendered and checked before the
first file is written, so a bad name or template leaves the directory as it was.

The templates live in the top-level ``templates/`` folder, shipped in the wheel (``deployer/shipped.py``).
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from deployer import __version__
from deployer.errors import BadInput, DeployerError
from deployer.shipped import shipped

DEFAULT_TEMPLATE = "python-api"
WORKFLOW_PATH = ".github/workflows/deploy.yml"
CONFIG_NAME = "deployer.toml"

# The Dockerfiles install their dependencies with exactly these lines; for a project that has a pyproject.toml and
# no requirements.txt they are replaced by an install of pyproject.toml's [project] dependencies, still before the
# code is copied, so the dependency layer stays cached across code changes.
REQUIREMENTS_INSTALL = "COPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt\n"
PYPROJECT_INSTALL = (
    "# The dependencies listed in pyproject.toml's [project] table, installed before the code is copied.\n"
    "COPY pyproject.toml ./\n"
    "RUN python -c \"import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))"
    ".get('project', {}).get('dependencies', []); print('\\n'.join(deps))\" > /tmp/requirements.txt \\\n"
    "    && pip install --no-cache-dir -r /tmp/requirements.txt\n"
)

Target = Literal["services", "vms", "jobs"]
_NAME_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
# Cloud Run service names are shorter than Compute Engine instance names (config/service.py, config/vm.py).
_MAX_NAME = {"services": 49, "vms": 63, "jobs": 49}
_REQUIREMENT_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    target: Target  # the deployer.toml table it writes: a Cloud Run service or a VM
    app_file: str
    needs: tuple[str, ...]  # the distributions the template's app imports beyond the standard library


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "python-api",
            "FastAPI on uvicorn: multi-stage (dependencies in a virtualenv), non-root, listens on $PORT; "
            "a Cloud Run service",
            "services",
            "app.py",
            ("fastapi", "uvicorn"),
        ),
        Template(
            "gpu-pytorch",
            "a PyTorch model behind FastAPI on a CUDA runtime base matched to torch (torch 2.5.1, CUDA 12.4); "
            "a Cloud Run service with an L4 GPU (or a GPU VM)",
            "services",
            "app.py",
            ("fastapi", "uvicorn"),
        ),
        Template(
            "batch-job",
            'a script run with arguments (ENTRYPOINT ["python", "main.py"], default CMD arguments callers '
            "replace) that exits when done, split between tasks by index; a Cloud Run job (or a VM)",
            "jobs",
            "main.py",
            (),
        ),
    )
}

FileAction = Literal["written", "overwritten", "unchanged", "skipped"]


@dataclass(frozen=True)
class FileOutcome:
    path: str  # relative to the project directory, posix
    action: FileAction
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "action": self.action, "reason": self.reason}


@dataclass
class InitResult:
    template: str
    name: str
    target: Target
    directory: Path
    dry_run: bool = False
    files: list[FileOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "name": self.name,
            "target": self.target,
            "directory": str(self.directory),
            "dry_run": self.dry_run,
            "files": [f.to_json() for f in self.files],
            "written": [f.path for f in self.files if f.action in ("written", "overwritten")],
            "skipped": [f.to_json() for f in self.files if f.action in ("skipped", "unchanged")],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Planned:
    path: str
    content: str | None  # None: not written, for ``reason``
    reason: str = ""


def template_files(name: str) -> Traversable:
    """The template's directory (package data: it works from a wheel as from a checkout)."""
    return shipped("templates", name)


def list_templates() -> list[Template]:
    return list(TEMPLATES.values())


def default_name(directory: Path, target: Target = "services") -> str:
    """A valid service or VM name from the directory's name ("My_Model API" → "my-model-api"), else "app"."""
    slug = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower())
    slug = re.sub(r"^[^a-z]+", "", slug)[: _MAX_NAME[target]].strip("-")
    return slug or "app"


def check_name(name: str, target: Target) -> None:
    limit = _MAX_NAME[target]
    if len(name) > limit or not _NAME_RE.fullmatch(name):
        kind = {"services": "a Cloud Run service name", "jobs": "a Cloud Run job name"}.get(
            target, "a Compute Engine VM name"
        )
        raise BadInput(
            f'--service "{name}" is not a valid name: {kind} is at most {limit} characters of lowercase letters, '
            "digits and hyphens, starting with a letter and not ending with a hyphen",
            "pass --service with such a name, e.g. --service my-api",
        )


def default_branch(directory: Path) -> str:
    """The branch GitHub deploys from: origin's HEAD, else the current branch, else "main"."""
    for args in (["symbolic-ref", "--short", "refs/remotes/origin/HEAD"], ["branch", "--show-current"]):
        try:
            found = subprocess.run(
                ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return "main"
        branch = found.stdout.strip().removeprefix("origin/")
        if found.returncode == 0 and branch:
            return branch
    return "main"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeployerError(f"cannot read {path}: {exc}") from None


def _requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        match = _REQUIREMENT_NAME_RE.match(line.split("#", 1)[0])
        if match and not line.lstrip().startswith("-"):
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def _pyproject(directory: Path) -> dict[str, Any] | None:
    path = directory / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        return tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML ({exc})", "fix pyproject.toml, then run deployer init again") from None


def _render_config(template: Template, name: str, project: str | None, region: str | None) -> str:
    text = template_files(template.name).joinpath(CONFIG_NAME).read_text(encoding="utf-8")
    project_line = f'project = "{project}"' if project else '# project = "my-project"'
    region_line = f'region = "{region}"' if region else '# region = "europe-west4"'
    text = text.replace("__PROJECT_SETTING__", project_line).replace("__REGION_SETTING__", region_line)
    return text.replace("__NAME__", name)


def render_workflow(template: Template, name: str, branch: str) -> str:
    """The deploy workflow for this template: it installs this deployer by its distribution name, pinned."""
    kind = "deploy-service.yml" if template.target == "services" else "deploy-vm.yml"
    text = shipped("templates", "github", kind).read_text(encoding="utf-8")
    return text.replace("__NAME__", name).replace("__BRANCH__", branch).replace("__VERSION__", __version__)


def _check_config(text: str, template: Template) -> None:
    """The rendered deployer.toml must load: a template that does not is deployer's bug, not the user's."""
    from pydantic import ValidationError

    from deployer.config import FileConfig

    try:
        FileConfig.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise DeployerError(f"the {template.name} template renders an invalid deployer.toml: {exc}") from None


def _check_project_setting(key: str, value: str | None) -> None:
    if value is None:
        return
    from deployer.config.checks import check_project, check_region

    try:
        (check_project if key == "project" else check_region)(value)
    except ValueError as exc:
        raise BadInput(f'--{key} "{value}": {exc}') from None


def _plan(
    directory: Path,
    template: Template,
    name: str,
    *,
    project: str | None,
    region: str | None,
    github: bool,
    notes: list[str],
) -> list[_Planned]:
    files = template_files(template.name)
    pyproject = _pyproject(directory)
    has_requirements = (directory / "requirements.txt").is_file()
    dockerfile = files.joinpath("Dockerfile").read_text(encoding="utf-8")
    if REQUIREMENTS_INSTALL not in dockerfile:
        raise DeployerError(f"the {template.name} template's Dockerfile lacks its dependency install lines")
    planned: list[_Planned] = []
    needs_listed: set[str] | None = None
    if has_requirements:
        planned.append(_Planned("requirements.txt", None, "the project's own: the Dockerfile installs from it"))
        needs_listed = _requirement_names(_read_text(directory / "requirements.txt").splitlines())
    elif pyproject is not None:
        dockerfile = dockerfile.replace(REQUIREMENTS_INSTALL, PYPROJECT_INSTALL)
        planned.append(
            _Planned(
                "requirements.txt", None, "the project has pyproject.toml: the Dockerfile installs its dependencies"
            )
        )
        dependencies = pyproject.get("project", {}).get("dependencies", [])
        needs_listed = _requirement_names([str(d) for d in dependencies])
        if "project" not in pyproject:
            notes.append(
                "pyproject.toml has no [project] table: the Dockerfile installs the dependencies listed in "
                "[project] dependencies (PEP 621); list them there or in a requirements.txt"
            )
    else:
        planned.append(_Planned("requirements.txt", files.joinpath("requirements.txt").read_text(encoding="utf-8")))
    if needs_listed is not None:
        missing = [need for need in template.needs if need not in needs_listed]
        if missing:
            source = "requirements.txt" if has_requirements else "pyproject.toml"
            notes.append(
                f"the template's {template.app_file} imports {', '.join(missing)}, which {source} does not list: "
                f"add {', '.join(missing)} (pinned) there"
            )
    planned.insert(0, _Planned("Dockerfile", dockerfile))
    planned.append(_Planned(".dockerignore", files.joinpath(".dockerignore").read_text(encoding="utf-8")))
    planned.append(_Planned(template.app_file, files.joinpath(template.app_file).read_text(encoding="utf-8")))
    config = _render_config(template, name, project, region)
    _check_config(config, template)
    if not (directory / CONFIG_NAME).exists() and pyproject is not None and "deployer" in pyproject.get("tool", {}):
        planned.append(_Planned(CONFIG_NAME, None, "the configuration is in pyproject.toml's [tool.deployer]"))
    else:
        planned.append(_Planned(CONFIG_NAME, config))
    if github:
        planned.append(_Planned(WORKFLOW_PATH, render_workflow(template, name, default_branch(directory))))
    return planned


def init_project(
    directory: Path,
    *,
    template_name: str = DEFAULT_TEMPLATE,
    name: str | None = None,
    project: str | None = None,
    region: str | None = None,
    github: bool = False,
    force: bool = False,
    dry_run: bool = False,
) -> InitResult:
    """Write the template into ``directory``; returns what was written and what was skipped, and why."""
    template = TEMPLATES.get(template_name)
    if template is None:
        raise BadInput(
            f'--template "{template_name}" is not a template; the templates are {", ".join(TEMPLATES)}',
            "list them with `deployer init --list`",
        )
    if not directory.is_dir():
        raise BadInput(f"{directory} is not a directory", "create it first, or pass -C with an existing directory")
    name = name if name is not None else default_name(directory, template.target)
    check_name(name, template.target)
    _check_project_setting("project", project)
    _check_project_setting("region", region)
    result = InitResult(template=template.name, name=name, target=template.target, directory=directory, dry_run=dry_run)
    planned = _plan(directory, template, name, project=project, region=region, github=github, notes=result.notes)
    outcomes: list[tuple[_Planned, FileOutcome]] = []
    for item in planned:
        path = directory / item.path
        if item.content is None:
            outcomes.append((item, FileOutcome(item.path, "skipped", item.reason)))
        elif path.is_file() and _read_text(path) == item.content:
            outcomes.append((item, FileOutcome(item.path, "unchanged", "already as the template writes it")))
        elif path.exists() and not path.is_file():
            raise BadInput(f"{path} exists and is not a file", "move it away, then run deployer init again")
        elif path.exists() and not force:
            outcomes.append((item, FileOutcome(item.path, "skipped", "exists (--force overwrites it)")))
        else:
            outcomes.append((item, FileOutcome(item.path, "overwritten" if path.exists() else "written")))
    if not dry_run:
        for item, outcome in outcomes:
            if outcome.action in ("written", "overwritten") and item.content is not None:
                path = directory / item.path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(item.content, encoding="utf-8")
    result.files = [outcome for _, outcome in outcomes]
    return result
