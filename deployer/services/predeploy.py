"""What ``deploy`` does before it uploads anything: the Dockerfile's lint warnings, the readiness checks that
matter for the target (stopping early with the same findings and fixes as ``deployer doctor``), and the accounts
``deployer bootstrap`` made, which the build and the workload then run as.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from deployer.config import ResolvedConfig
from deployer.gcp import GoogleCloud
from deployer.reporter import Reporter
from deployer.services.build import BuildInputs, PreparedSource, prepared_source
from deployer.services.doctor import preflight_report, require_ready
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
    readiness = preflight_report(cloud, config, name)
    for check in readiness.warnings:
        reporter.warn(f"{check.check}: {check.found}")
    require_ready(readiness.findings)
    return DeployIdentities(*readiness.accounts)


@dataclass(frozen=True)
class ReadyToDeploy:
    source: PreparedSource | None  # the packed context; None when an image is given
    inputs: BuildInputs  # the build inputs, running as bootstrap's build account when it exists
    runtime_account: str | None  # bootstrap's runtime account, when it exists


@contextmanager
def ready_to_deploy(
    cloud: GoogleCloud,
    config: ResolvedConfig,
    name: str,
    inputs: BuildInputs,
    *,
    image: str | None,
    lint_target: str,
    reporter: Reporter,
) -> Iterator[ReadyToDeploy]:
    """Pack and check the context first (a refusal exits 2 having sent nothing), then ``check_before_deploy``.

    The packed context lives until the block ends, for the deploy plan to upload.
    """
    with prepared_source(None if image else inputs, reporter) as source:
        identities = check_before_deploy(
            cloud,
            config,
            name,
            dockerfile=None if image else inputs.dockerfile,
            context_dir=inputs.context_dir,
            lint_target=lint_target,
            reporter=reporter,
        )
        if identities.build_account:
            inputs = replace(inputs, service_account=identities.build_account)
        yield ReadyToDeploy(source, inputs, identities.runtime_account)
