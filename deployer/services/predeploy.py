"""What ``deploy`` does before it uploads anything: the Dockerfile's lint warnings, the readiness checks that
matter for the target (stopping early with the same findings and fixes as ``deployer doctor``), and the accounts
``deployer bootstrap`` made, which the build and the workload then run as.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deployer.config import ResolvedConfig
from deployer.gcp import GoogleCloud
from deployer.reporter import Reporter
from deployer.services.bootstrap import bootstrap_accounts
from deployer.services.doctor import Severity, preflight_for_deploy, require_ready
from deployer.services.lint import lint_for_deploy


@dataclass(frozen=True)
class DeployIdentities:
    build_account: str | None  # deployer-build@…, when bootstrap made it
    runtime_account: str | None  # deployer-runtime@…, when bootstrap made it


def check_before_deploy(
    cloud: GoogleCloud,
    config: ResolvedConfig,
    name: str,
    *,
    dockerfile: Path | None,
    context_dir: Path | None,
    lint_target: str,
    reporter: Reporter,
) -> DeployIdentities:
    """Warn about the Dockerfile, stop when the project is not ready, and find bootstrap's accounts. Reads only."""
    if dockerfile is not None and dockerfile.is_file():
        for finding in lint_for_deploy(dockerfile, lint_target, context_dir=context_dir):
            if finding.severity in ("error", "warning"):
                where = f"{dockerfile.name}:{finding.line}" if finding.line else dockerfile.name
                reporter.warn(f"{where}: {finding.message} (fix: {finding.fix}; see `deployer lint`)")
    readiness = preflight_for_deploy(cloud, config, name)
    for check in readiness:
        if check.severity is Severity.WARNING:
            reporter.warn(f"{check.check}: {check.found}")
    require_ready(readiness)
    return DeployIdentities(*bootstrap_accounts(cloud, config.require_project()))
