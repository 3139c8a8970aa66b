"""What a kind of deploy target is (a Cloud Run service, a VM; next a Cloud Run job), and the one deploy they share.

``deployer deploy NAME`` finds NAME's kind in deployer.toml, makes that kind's Target (targets/__init__.py), and
runs ``planned_deploy``: the kind's checks of the flags, its build inputs, the checks every deploy makes first
(services/predeploy.py), then the kind's plan. A new kind is a new module with a Target, and one line in the registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from deployer.errors import DeployerError
from deployer.plan import Result
from deployer.services.build import Placement, inputs_from_config
from deployer.services.predeploy import ReadyToDeploy, check_readiness, ready_to_deploy, repository_exists_of

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig, ServiceConfig
    from deployer.config.job import JobConfig
    from deployer.config.vm import VmConfig
    from deployer.gcp import GoogleCloud
    from deployer.reporter import Reporter
    from deployer.services.build import BuildInputs

R = TypeVar("R", bound=Result)


@dataclass(frozen=True)
class DeployRequest:
    """What the deploy command's flags ask for; every kind reads them the same way."""

    image: str | None = None  # deploy this image instead of building
    max_context_mb: int | None = None
    allow_large_context: bool = False
    allow_credential_files: tuple[str, ...] = ()
    preview: str | None = None  # a traffic tag: a revision that receives no traffic (Cloud Run services only)
    check: bool = False  # run the readiness checks even when the plan changes nothing
    canary: int | None = None  # the new revision's percent of traffic; the rest stays where it is (services only)
    to_latest: bool = False  # all traffic to the new revision, even when a split is pinned (services only)

    def build_inputs(
        self, config: ResolvedConfig, name: str, table: ServiceConfig | VmConfig | JobConfig
    ) -> BuildInputs:
        """What to build for the target ``name`` (its [services], [vms] or [jobs] table), with these flags' limits."""
        return inputs_from_config(
            config, name, table, self.max_context_mb, self.allow_large_context, self.allow_credential_files
        )


class TableTarget:
    """What every kind's target holds: the resolved config and the name of its table."""

    default_image: str | None = None  # an image the table itself names, deployed as `deploy --image` would

    def __init__(self, config: ResolvedConfig, name: str) -> None:
        self.config = config
        self.name = name


class Target(Protocol[R]):
    """One [KIND.NAME] table of deployer.toml, as its kind deploys it."""

    config: ResolvedConfig
    name: str
    label: str  # how lines name the kind: "Service", "VM"
    lint_target: str  # which of lint's rules apply to its Dockerfile: "run" or "vm"

    def check(self, request: DeployRequest) -> None:
        """Refuse, with BadInput, what the flags ask that this kind cannot do: before anything is read."""

    def build_inputs(self, request: DeployRequest) -> BuildInputs: ...

    def announce(self, cloud: GoogleCloud, inputs: BuildInputs) -> str:
        """The first progress line: what is deployed where, with the Cloud Console's page for it."""

    def plan(
        self, cloud: GoogleCloud, reporter: Reporter, ready: ReadyToDeploy, request: DeployRequest
    ) -> AbstractContextManager[R]:
        """The kind's plan (reads only), on what the checks before a deploy found."""

    def summary(self, result: R) -> list[str]:
        """The lines that say what runs where once the plan is applied."""


def placement(ready: ReadyToDeploy, request: DeployRequest) -> Placement:
    """Where the checks found the deploy goes, and what it runs: the given image, or the build of the context."""
    inputs = ready.inputs
    return Placement(inputs.project, inputs.region, None if request.image else inputs, request.image, ready.source)


def warn_secret_env(target: Target[R], reporter: Reporter) -> None:
    """Plain env values are part of the workload's configuration: anyone who may read the service or the VM reads
    them. Secrets belong in Secret Manager; deployer still sends them as configured, and shows them masked."""
    from deployer.masking import secret_names

    _, kind, table = target.config.target(target.name)
    names = secret_names(table.env, table.secret_env)
    if names:
        where = {"service": "the service's revisions", "job": "the job"}.get(kind, "the VM's metadata")
        reporter.warn(
            f"env {', '.join(names)} of {target.name} hold secrets as plain values, readable by anyone who may read "
            f"{where}: they belong in Secret Manager (shown masked here)"
        )


@contextmanager
def planned_deploy(cloud: GoogleCloud, reporter: Reporter, target: Target[R], request: DeployRequest) -> Iterator[R]:
    """Check the flags and the context, plan, then run the readiness checks when the plan changes something (or
    ``request.check``); reads only. The checked context lives until the block ends, for the plan's upload step.

    An unchanged deploy so costs only the plan's reads. A planning read that Google refuses runs the checks too: a
    project that is not ready stops with doctor's findings and fixes, not the refusal alone.
    """
    default_image = getattr(target, "default_image", None)  # a TableTarget's
    if request.image is None and default_image:
        request = replace(request, image=default_image)
    target.check(request)
    inputs = target.build_inputs(request)
    reporter.info(target.announce(cloud, inputs))
    warn_secret_env(target, reporter)
    config, name = target.config, target.name
    with ready_to_deploy(
        cloud, config, name, inputs, image=request.image, lint_target=target.lint_target, reporter=reporter
    ) as ready:
        planning = True
        try:
            with target.plan(cloud, reporter, ready, request) as result:
                planning = False
                if request.check or result.plan.changes:
                    repository_exists = repository_exists_of(result)
                    check_readiness(
                        cloud, config, name, reporter, identities=ready.identities, repository_exists=repository_exists
                    )
                yield result
        except DeployerError:
            if planning:
                check_readiness(cloud, config, name, reporter, identities=ready.identities)
            raise
