"""What bootstrap is asked for: the flags and [bootstrap] resolved into ``BootstrapInputs``, and the
constants and pure helpers the steps share (the APIs, cleanup policies, GitHub variables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deployer.errors import BadInput
from deployer.services import roles

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig


# What every target needs (Cloud Build → Artifact Registry → Cloud Run), the APIs bootstrap itself calls, and
# Workload Identity Federation's token exchange (sts) and impersonation (iamcredentials).
BASE_APIS = (
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
    "cloudbilling.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "storage.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "run.googleapis.com",
    "logging.googleapis.com",
)
COMPUTE_API = "compute.googleapis.com"
BUDGETS_API = "billingbudgets.googleapis.com"

POOL_ID = "deployer-github"
PROVIDER_ID = "github"
POLICY_ATTEMPTS = 8  # read-modify-write attempts on a contended IAM policy before giving up
GITHUB_VARIABLES = ("GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT", "GCP_PROJECT", "GCP_REGION")
NUMBER_PLACEHOLDER = "PROJECT_NUMBER"


def needed_apis(*, vms: bool, budget: bool, extra: tuple[str, ...] = ()) -> list[str]:
    """The APIs to enable; compute only with [vms], billingbudgets only with a budget."""
    apis = [*BASE_APIS, *([COMPUTE_API] if vms else []), *([BUDGETS_API] if budget else []), *extra]
    return list(dict.fromkeys(apis))


def github_variables(provider: str, service_account: str, project: str, region: str) -> dict[str, str]:
    """The repository variables the GitHub workflow reads, by name."""
    return dict(zip(GITHUB_VARIABLES, (provider, service_account, project, region), strict=True))


def gh_commands(repository: str, variables: dict[str, str]) -> list[str]:
    return [f'gh variable set {name} --body "{value}" --repo {repository}' for name, value in variables.items()]


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class BootstrapInputs:
    project: str
    region: str
    repository: str
    create: bool = False
    parent: str | None = None
    billing_account: str | None = None
    members: tuple[str, ...] = ()
    github: str | None = None
    budget: float | None = None
    budget_currency: str | None = None
    keep_versions: int = 10
    untagged_older_than_s: int = 7 * 86400
    apis_extra: tuple[str, ...] = ()
    vms: bool = False
    caller: str | None = None  # who runs bootstrap, as an IAM member: allowed to act as the deployer accounts
    github_ref: str | None = None  # the branch (or refs/..., or environment:NAME) the trust is bound to
    github_ids: tuple[str, str] | None = None  # the repository's immutable (repository_id, repository_owner_id)
    workload_roles: tuple[str, ...] = ()  # roles = [...] of deployer.toml's services and VMs, for the runtime account

    @property
    def ci_account(self) -> str:
        return roles.service_account_email(roles.CI_ACCOUNT_ID, self.project)

    @property
    def build_account(self) -> str:
        return roles.service_account_email(roles.BUILD_ACCOUNT_ID, self.project)

    @property
    def runtime_account(self) -> str:
        return roles.service_account_email(roles.RUNTIME_ACCOUNT_ID, self.project)


def _flag(name: str, value: Any, check: Callable[[Any], Any]) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise BadInput(f"{name} {value!r}: {exc}", f"correct {name} and run the command again") from None


def inputs_from_config(
    config: ResolvedConfig,
    *,
    create: bool = False,
    parent: str | None = None,
    billing_account: str | None = None,
    members: tuple[str, ...] = (),
    github: str | None = None,
    budget: float | None = None,
    budget_currency: str | None = None,
    caller: str | None = None,
    github_repository_id: str | None = None,
    github_owner_id: str | None = None,
) -> BootstrapInputs:
    """Flags over ``[bootstrap]`` in deployer.toml; ``--member`` adds to the configured members. Bad flags exit 2."""
    from deployer.config.bootstrap import (
        check_billing_account,
        check_budget,
        check_currency,
        check_github,
        check_member,
        check_parent,
    )
    from deployer.services.bootstrap.github import github_ids, split_github

    file = config.bootstrap
    repository, ref = split_github(_flag("--github", github, check_github) if github else file.github)
    ids = github_ids(repository, github_repository_id, github_owner_id) if repository else None
    workload_roles = [role for service in config.services.values() for role in service.roles]
    workload_roles += [role for vm in config.vms.values() for role in vm.roles]
    flag_members = tuple(_flag("--member", m, check_member) for m in members)
    if create:
        _check_new_project_id(config.require_project())
    return BootstrapInputs(
        project=config.require_project(),
        region=config.require_region(),
        repository=config.repository.value,
        create=create,
        parent=_flag("--parent", parent, check_parent) if parent else file.parent,
        billing_account=(
            _flag("--billing-account", billing_account, check_billing_account)
            if billing_account
            else file.billing_account
        ),
        members=tuple(dict.fromkeys((*file.members, *flag_members))),
        github=repository,
        github_ref=ref,
        github_ids=ids,
        workload_roles=tuple(dict.fromkeys(workload_roles)),
        budget=_flag("--budget", budget, check_budget) if budget is not None else file.budget,
        budget_currency=(
            _flag("--budget-currency", budget_currency, check_currency) if budget_currency else file.budget_currency
        ),
        keep_versions=file.cleanup_keep_versions,
        untagged_older_than_s=file.cleanup_untagged_older_than,
        apis_extra=tuple(file.apis_extra),
        vms=bool(config.vms),
        caller=caller,
    )


# Words a new project id may not contain (https://cloud.google.com/resource-manager/docs/creating-managing-projects:
# "restricted strings such as google and ssl"; null and undefined are refused too).
RESTRICTED_PROJECT_WORDS = ("google", "ssl", "null", "undefined")


def _check_new_project_id(project: str) -> None:
    """Before --create sends anything: the format is checked when the config loads; these words are Google's rule."""
    used = [word for word in RESTRICTED_PROJECT_WORDS if word in project]
    if used:
        raise BadInput(
            f"--project {project!r}: a new project id may not contain {', '.join(repr(w) for w in used)}",
            f"choose an id without {', '.join(RESTRICTED_PROJECT_WORDS)}, e.g. {project.replace(used[0], 'app')}",
        )
