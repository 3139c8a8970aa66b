"""Dockerfiles the lint tests share: one with every anti-pattern deployer flags, and where."""

from __future__ import annotations

from pathlib import Path

from deployer.services.init import init_project
from deployer.services.lint import lint_dockerfile

# Each anti-pattern, with the line deployer must name (comments at the end of a line would be part of it, so the
# expected findings are listed in EXPECTED instead).
ANTI_PATTERNS = """\
# syntax=docker/dockerfile:1
ARG BASE=python
FROM --platform=linux/arm64 ${BASE} AS builder
RUN apt-get update && apt-get upgrade -y

FROM python:latest
WORKDIR /app
COPY . .
RUN apt-get update && \\
    apt-get install -y gcc \\
        build-essential
RUN pip install -r requirements.txt
CMD python app.py --port 8000
"""


EXPECTED = {
    ("platform", 3),  # --platform=linux/arm64
    ("base-tag", 3),  # ARG-substituted FROM: "python", untagged
    ("apt-upgrade", 4),
    ("base-tag", 6),  # :latest
    ("root-user", 6),  # the final stage sets no USER
    ("deps-after-copy", 9),  # apt-get install after COPY . . (line 8)
    ("package-cache", 9),  # apt lists left behind
    ("compiler-in-runtime", 9),  # gcc, build-essential in the final stage
    ("deps-after-copy", 12),
    ("package-cache", 12),  # pip without --no-cache-dir
    ("shell-form", 13),
    ("port", 13),  # --port 8000 instead of $PORT
    ("no-dockerignore", 0),
}


def write_dockerfile(directory: Path, text: str, *, dockerignore: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Dockerfile"
    path.write_text(text)
    if dockerignore:
        (directory / ".dockerignore").write_text(".git\n")
    return path


def deployer_findings(path: Path, target: str = "run") -> set[tuple[str, int]]:
    result = lint_dockerfile(path, target=target, use_hadolint=False)
    return {(f.rule, f.line) for f in result.findings}


def rendered_template(tmp_path: Path, template: str, *, pyproject: bool = False) -> Path:
    directory = tmp_path / template / ("pyproject" if pyproject else "plain")
    directory.mkdir(parents=True)
    if pyproject:
        (directory / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\ndependencies = []\n')
    init_project(directory, template_name=template, name="app")
    return directory / "Dockerfile"
