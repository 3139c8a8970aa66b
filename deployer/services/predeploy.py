"""What ``deploy`` does around its plan: the Dockerfile's lint warnings, the accounts ``deployer bootstrap`` made
(the build and the workload run as them), and the readiness checks that matter for the target (stopping with the
same findings and fixes as ``deployer doctor``).

The readiness checks cost about seven reads, and an unchanged deploy needs none of them: they run only when the plan
has something to change (or with ``deploy --check``), still before anything is uploaded or changed. When a read of
the plan itself fails (a disabled API, billing off, a missing permission), the checks run then, so the user gets
doctor's finding and fix rather than the raw refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from deployer.config import ResolvedConfig
from deployer.gcp import GoogleCloud
from deployer.plan import Result
from deployer.reporter import Reporter
from deployer.services.bootstrap.accounts import bootstrap_accounts
from deployer.services.build import BuildInputs, PreparedSource, prepared_source
from deployer.services.doctor import DoctorReport, preflight_report, require_ready
from deployer.services.lint import lint_for_deploy


@dataclass(frozen=True)
class DeployIdentities:
    build_account: str | None  # deployer-build@…, when bootstrap made it
    runtime_account: str | None  # deployer-runtime@…, when bootstrap made it


def lint_warnings(
    dockerfile: Path | None, lint_target: str, context_dir: Path | None, reporter: Reporter, gpu_type: str = ""
) -> None:
    if dockerfile is None or not dockerfile.is_file():
        return
    for finding in lint_for_deploy(dockerfile, lint_target, context_dir=context_dir, gpu_type=gpu_type):
        if finding.severity in ("error", "warning"):
            where = f"{dockerfile.name}:{finding.line}" if finding.line else dockerfile.name
            reporter.warn(f"{where}: {finding.message} (fix: {finding.fix}; see `deployer lint`)")


def check_readiness(
    cloud: GoogleCloud,
    config: ResolvedConfig,
    name: str,
    reporter: Reporter,
    *,
    identities: DeployIdentities | None = None,
    repository_exists: bool | None = None,
) -> DoctorReport:
    """Doctor's checks for one target; what the deploy already read (accounts, repository) is not read again."""
    known = (identities.build_account, identities.runtime_account) if identities is not None else None
    readiness = preflight_report(cloud, config, name, accounts=known, repository_exists=repository_exists)
    for check in readiness.warnings:
        reporter.warn(f"{check.check}: {check.found}")
    require_ready(readiness.findings)
    return readiness


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
    lint_warnings(dockerfile, lint_target, context_dir, reporter)
    readiness = check_readiness(cloud, config, name, reporter)
    return DeployIdentities(*readiness.accounts)


@dataclass(frozen=True)
class ReadyToDeploy:
    source: PreparedSource | None  # the checked context; None when an image is given
    inputs: BuildInputs  # the build inputs, running as bootstrap's build account when it exists
    runtime_account: str | None  # bootstrap's runtime account, when it exists
    identities: DeployIdentities | None = None


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
    """Check the context first (a refusal exits 2 having sent nothing), warn about the Dockerfile, find bootstrap's
    accounts (two reads, at once). The checked context lives until the block ends, for the plan to upload."""
    with prepared_source(None if image else inputs, reporter) as source:
        gpu = getattr(config.services.get(name), "gpu", None)
        gpu_type = gpu.type if gpu is not None else ""
        lint_warnings(None if image else inputs.dockerfile, lint_target, inputs.context_dir, reporter, gpu_type)
        identities = DeployIdentities(*bootstrap_accounts(cloud, inputs.project))
        if identities.build_account:
            inputs = replace(inputs, service_account=identities.build_account)
        yield ReadyToDeploy(source, inputs, identities.runtime_account, identities)


def repository_exists_of(result: Result) -> bool | None:
    """Whether the plan's build found the repository (None when it did not look: the image already existed)."""
    build = getattr(result, "build", None)
    return getattr(build, "repository_exists", None)
