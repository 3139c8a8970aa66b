"""A lint finding: a rule, its severity, the line it names, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from deployer.plan import attributes

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    rule: str  # deployer's rule name, or hadolint's code (DL3008, SC2086, ...)
    severity: Severity
    line: int  # 1-based line in the Dockerfile; 0 for the file as a whole
    message: str
    fix: str
    source: str = "deployer"  # or "hadolint"

    def to_json(self) -> dict[str, Any]:
        return attributes(self, "rule", "severity", "line", "message", "fix", "source")
