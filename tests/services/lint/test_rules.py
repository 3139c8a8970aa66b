"""Pure tier: deployer's lint rules (services/lint/rules.py), each at the right line, and every template clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.errors import BadInput
from deployer.services.init import TEMPLATES
from deployer.services.lint import lint_dockerfile, lint_for_deploy
from tests.services.lint.samples import ANTI_PATTERNS, EXPECTED, deployer_findings, rendered_template, write_dockerfile


def test_every_anti_pattern_is_flagged_at_its_line(tmp_path: Path) -> None:
    path = write_dockerfile(tmp_path / "bad", ANTI_PATTERNS)
    assert deployer_findings(path) == EXPECTED
    findings = lint_dockerfile(path, use_hadolint=False).findings
    by_rule = {(f.rule, f.line): f for f in findings}
    assert by_rule[("platform", 3)].severity == "error"
    assert by_rule[("port", 13)].severity == "error"
    assert "8000" in by_rule[("port", 13)].message
    assert "line 8" in by_rule[("deps-after-copy", 12)].message
    assert "gcc, build-essential" in by_rule[("compiler-in-runtime", 9)].message
    assert all(f.fix for f in findings)


def test_targets_other_than_cloud_run_skip_the_port_and_soften_the_platform(tmp_path: Path) -> None:
    path = write_dockerfile(tmp_path / "bad", ANTI_PATTERNS)
    assert deployer_findings(path, "vm") == EXPECTED - {("port", 13)}
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
    assert deployer_findings(write_dockerfile(tmp_path / "good", text, dockerignore=True)) == set()


def test_root_users_sh_c_without_exec_loopback_and_cuda_devel(tmp_path: Path) -> None:
    text = """\
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04
USER app
USER root
CMD ["sh", "-c", "uvicorn app:app --host 127.0.0.1 --port 8080"]
"""
    path = write_dockerfile(tmp_path, text, dockerignore=True)
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
        lint_dockerfile(write_dockerfile(tmp_path / "empty", "# nothing\n"))
    with pytest.raises(BadInput, match="before the first FROM"):
        lint_dockerfile(write_dockerfile(tmp_path / "early", "RUN true\nFROM python:3.12-slim\n"))
    with pytest.raises(BadInput, match='--target "cloud"'):
        lint_dockerfile(write_dockerfile(tmp_path / "ok", "FROM python:3.12-slim\n"), target="cloud")
    # For deploy, a file lint cannot read is one finding, never an exception: the build reports the details.
    (finding,) = lint_for_deploy(tmp_path / "empty" / "Dockerfile", "run")
    assert (finding.rule, finding.severity) == ("parse", "error")


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("pyproject", [False, True], ids=["requirements", "pyproject"])
def test_every_template_passes(tmp_path: Path, template: str, pyproject: bool) -> None:
    path = rendered_template(tmp_path, template, pyproject=pyproject)
    targets = ["run", "vm"] if template != "batch-job" else ["vm"]
    for target in targets:
        result = lint_dockerfile(path, target=target)
        assert result.findings == [], [f.to_json() for f in result.findings]
