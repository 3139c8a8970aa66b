"""``deployer bootstrap``: from "I have a billing account" to a project deployer can build and deploy in.

The plan, in order: the project (created or adopted), the billing link, the APIs the targets need, the Artifact
Registry repository with its cleanup policies, the build and deploy/runtime service accounts, their project roles
and the team's, Workload Identity Federation for GitHub Actions, the service accounts' own policies (who may act as
them), and a budget. Planning only reads. Each step's action reads again before it writes, so a step that an
interrupted run already did is skipped, and a second run over an unchanged project is all no-ops.

IAM policies are changed by read-modify-write with the etag; when Google answers 409 ABORTED (someone else changed
the policy in between) the whole read-modify-write is redone, with backoff, so no binding is lost.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.artifactregistry import cleanup_policies, repository_body
from deployer.gcp.bodies.budgets import THRESHOLDS, budget_body, budget_differences, budget_display_name
from deployer.gcp.bodies.iam import (
    add_bindings,
    github_principal_set,
    github_provider_body,
    missing_grants,
    pool_body,
    provider_differences,
    service_account_body,
)
from deployer.gcp.bodies.labels import managed_by_label
from deployer.gcp.bodies.resourcemanager import project_body
from deployer.gcp.bodies.run import owned_differences
from deployer.gcp.errors import PolicyConflict
from deployer.gcp.iam import pool_resource, provider_resource
from deployer.gcp.serviceusage import MAX_BATCH
from deployer.plan import Action, Plan, Step
from deployer.reporter import Reporter
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
    caller: str | None = None  # who runs bootstrap, as an IAM member: allowed to act as the deploy account

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

    file = config.bootstrap
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
        github=_flag("--github", github, check_github) if github else file.github,
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


@dataclass
class _World:
    """What planning learned, and what applying learns (the number of a project created on the way)."""

    exists: bool = False
    number: str | None = None
    enabled: set[str] = field(default_factory=set)
    billing_account: str | None = None
    accounts: dict[str, bool] = field(default_factory=dict)  # email -> exists

    def readable(self, api: str) -> bool:
        """Whether reads of ``api`` can tell anything yet (a new project, or a disabled API, has nothing there)."""
        return self.exists and api in self.enabled

    def project_number(self) -> str:
        return self.number or NUMBER_PLACEHOLDER


@dataclass
class BootstrapResult:
    inputs: BootstrapInputs
    plan: Plan = field(default_factory=Plan)
    dry_run: bool = False
    world: _World = field(default_factory=_World)

    @property
    def project_number(self) -> str | None:
        return self.world.number

    @property
    def repository_name(self) -> str:
        i = self.inputs
        return f"projects/{i.project}/locations/{i.region}/repositories/{i.repository}"

    @property
    def provider_name(self) -> str | None:
        if not self.inputs.github:
            return None
        return provider_resource(self.world.project_number(), POOL_ID, PROVIDER_ID)

    def github(self) -> dict[str, Any] | None:
        i = self.inputs
        provider = self.provider_name
        if not i.github or provider is None:
            return None
        variables = github_variables(provider, i.runtime_account, i.project, i.region)
        return {
            "repository": i.github,
            "workload_identity_provider": provider,
            "service_account": i.runtime_account,
            "variables": variables,
            "commands": gh_commands(i.github, variables),
        }

    def to_json(self, *, with_requests: bool = False) -> dict[str, Any]:
        i = self.inputs
        return {
            "project": i.project,
            "project_number": self.project_number,
            "region": i.region,
            "dry_run": self.dry_run,
            "changed": bool(self.plan.changes),
            "build_service_account": i.build_account,
            "runtime_service_account": i.runtime_account,
            "repository": self.repository_name,
            "members": list(i.members),
            "github": self.github(),
            "budget": (
                {"amount": i.budget, "currency": i.budget_currency, "thresholds": list(THRESHOLDS)}
                if i.budget is not None
                else None
            ),
            "steps": self.plan.to_json(with_request=with_requests),
        }


class Bootstrapper:
    """Plans (reads only) and applies a project bootstrap."""

    def __init__(self, cloud: GoogleCloud, reporter: Reporter) -> None:
        self._cloud = cloud
        self._reporter = reporter

    def plan(self, inputs: BootstrapInputs) -> BootstrapResult:
        result = BootstrapResult(inputs)
        self._plan_project(result)
        self._plan_billing(result)
        self._plan_apis(result)
        self._plan_repository(result)
        self._plan_accounts(result)
        self._plan_project_roles(result)
        if inputs.github:
            self._plan_github(result)
        self._plan_account_policies(result)
        if inputs.budget is not None:
            self._plan_budget(result)
        return result

    def apply(self, result: BootstrapResult) -> None:
        for step in result.plan.steps:
            if step.apply is not None:
                step.apply()

    # -- 1. the project ------------------------------------------------------------------------------------------------
    def _plan_project(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        rm = self._cloud.resource_manager
        project = rm.get_project(i.project)
        if project is not None:
            if not project.active:
                raise DeployerError(
                    f"project {i.project} is {project.state}: it was deleted and is waiting to be purged",
                    f"restore it within 30 days of the deletion (gcloud projects undelete {i.project}) and run "
                    "bootstrap again, or choose another project id",
                )
            world.exists, world.number = True, project.number
            result.plan.add(Step(Action.NOOP, f"projects/{i.project}", f"project exists (number {project.number})"))
            return
        if not i.create:
            raise DeployerError(
                f"project {i.project} does not exist, or you may not see it",
                f"create it with `deployer bootstrap --project {i.project} --create --billing-account ACCOUNT_ID`, "
                "or check the id (gcloud projects list) and that you have access to it",
            )
        body = project_body(i.project, i.parent, managed_by_label())

        def create() -> None:
            existing = rm.get_project(i.project)
            if existing is None:
                with self._reporter.activity(f"Creating project {i.project}"):
                    existing = rm.create_project(body)
            world.exists, world.number = True, existing.number

        where = f" in {i.parent}" if i.parent else ""
        result.plan.add(
            Step(
                Action.CREATE,
                f"projects/{i.project}",
                f"create project {i.project}{where}",
                {"method": "POST", "url": "/v3/projects", "body": body},
                apply=create,
            )
        )

    # -- 2. billing ----------------------------------------------------------------------------------------------------
    def _plan_billing(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        billing = self._cloud.billing
        linked = billing.get_info(i.project) if world.exists else None
        wanted = i.billing_account
        if linked is not None and linked.enabled and wanted in (None, linked.account):
            world.billing_account = linked.account
            result.plan.add(
                Step(Action.NOOP, f"projects/{i.project}/billingInfo", f"billing is enabled (account {linked.account})")
            )
            return
        if wanted is None:
            raise BadInput(
                f"billing is not enabled on project {i.project}, and no billing account was given",
                "pass --billing-account ACCOUNT_ID (`gcloud billing accounts list` shows yours), or set "
                "billing_account in [bootstrap] of deployer.toml",
            )
        self._check_billing_account(wanted)
        world.billing_account = wanted
        was = f" (replacing {linked.account})" if linked is not None and linked.account else ""

        def link() -> None:
            current = billing.get_info(i.project)
            if current.enabled and current.account == wanted:
                return
            with self._reporter.activity(f"Linking billing account {wanted}"):
                billing.link(i.project, wanted)

        result.plan.add(
            Step(
                Action.UPDATE,
                f"projects/{i.project}/billingInfo",
                f"link billing account {wanted}{was}",
                {
                    "method": "PUT",
                    "url": f"/v1/projects/{i.project}/billingInfo",
                    "body": {"billingAccountName": f"billingAccounts/{wanted}"},
                },
                apply=link,
            )
        )

    def _check_billing_account(self, account: str) -> None:
        """Before anything is created: the account exists, is open, and the caller may link projects to it."""
        from deployer.gcp.billing import link_refused

        billing = self._cloud.billing
        found = billing.get_account(account)
        if found is None:
            raise DeployerError(
                f"billing account {account} does not exist, or you may not see it",
                "check the id with `gcloud billing accounts list`; an administrator of the account can grant you "
                "roles/billing.user on it",
            )
        if not found.open:
            raise DeployerError(
                f"billing account {account} ({found.display_name}) is closed: it cannot pay for projects",
                "reopen it in the Cloud Console (Billing → Account management), or pass another --billing-account",
            )
        if not billing.can_link(account):
            raise link_refused(account)

    # -- 3. APIs -------------------------------------------------------------------------------------------------------
    def _plan_apis(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        usage = self._cloud.service_usage
        needed = needed_apis(vms=i.vms, budget=i.budget is not None, extra=i.apis_extra)
        world.enabled = usage.enabled(i.project) if world.exists else set()
        missing = [api for api in needed if api not in world.enabled]
        if not missing:
            result.plan.add(
                Step(Action.NOOP, f"projects/{i.project}/services", f"all {len(needed)} needed APIs are enabled")
            )
            return
        for batch in _batches(missing, MAX_BATCH):

            def enable(batch: list[str] = batch) -> None:
                still = [api for api in batch if api not in usage.enabled(i.project)]
                if still:
                    with self._reporter.activity(f"Enabling {len(still)} APIs"):
                        usage.enable(i.project, still)
                with self._reporter.activity("Waiting until the enabled APIs answer"):
                    usage.wait_until_answering(
                        i.project,
                        batch,
                        i.region,
                        on_wait=lambda api: self._reporter.info(f"{api} is enabled but does not answer yet: waiting"),
                    )
                world.enabled |= set(batch)

            short = ", ".join(api.removesuffix(".googleapis.com") for api in batch)
            result.plan.add(
                Step(
                    Action.UPDATE,
                    f"projects/{i.project}/services",
                    f"enable {len(batch)} APIs: {short}",
                    {
                        "method": "POST",
                        "url": f"/v1/projects/{i.project}/services:batchEnable",
                        "body": {"serviceIds": batch},
                    },
                    apply=enable,
                )
            )

    # -- 4. the Artifact Registry repository ---------------------------------------------------------------------------
    def _plan_repository(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        registry = self._cloud.artifact_registry
        wanted = cleanup_policies(i.keep_versions, i.untagged_older_than_s)
        current = (
            registry.cleanup_policies(i.project, i.region, i.repository)
            if world.readable("artifactregistry.googleapis.com")
            else None
        )
        resource = result.repository_name
        policy_words = (
            f"keep the {i.keep_versions} most recent versions, delete untagged images older than "
            f"{_age(i.untagged_older_than_s)}"
        )
        body = repository_body(cleanup_policies=wanted)

        def ensure() -> None:
            have = registry.cleanup_policies(i.project, i.region, i.repository)
            if have is None:
                with self._reporter.activity(f"Creating repository {i.repository}"):
                    registry.create_repository(i.project, i.region, i.repository, body)
            elif owned_differences(wanted, have):
                registry.set_cleanup_policies(i.project, i.region, i.repository, {**have, **wanted})

        if current is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    resource,
                    f"create Docker repository {i.repository} ({policy_words})",
                    {
                        "method": "POST",
                        "url": f"/v1/projects/{i.project}/locations/{i.region}/repositories"
                        f"?repositoryId={i.repository}",
                        "body": body,
                    },
                    apply=ensure,
                )
            )
        elif owned_differences(wanted, current):
            result.plan.add(
                Step(
                    Action.UPDATE,
                    resource,
                    f"set the cleanup policies ({policy_words})",
                    {
                        "method": "PATCH",
                        "url": f"/v1/{resource}?updateMask=cleanupPolicies",
                        "body": {"cleanupPolicies": {**current, **wanted}},
                    },
                    apply=ensure,
                )
            )
        else:
            result.plan.add(
                Step(Action.NOOP, resource, f"repository exists with its cleanup policies ({policy_words})")
            )

    # -- 5. service accounts -------------------------------------------------------------------------------------------
    def _plan_accounts(self, result: BootstrapResult) -> None:
        i = result.inputs
        accounts = (
            (
                roles.BUILD_ACCOUNT_ID,
                i.build_account,
                "deployer build",
                "Cloud Build runs deployer's builds as this account: it pushes images (made by deployer bootstrap)",
            ),
            (
                roles.RUNTIME_ACCOUNT_ID,
                i.runtime_account,
                "deployer deploy and runtime",
                "GitHub Actions deploys as this account, and the deployed workloads run as it (made by deployer "
                "bootstrap)",
            ),
        )
        for account_id, email, display, description in accounts:
            self._plan_account(result, account_id, email, display, description)

    def _plan_account(self, result: BootstrapResult, account_id: str, email: str, display: str, about: str) -> None:
        i, world = result.inputs, result.world
        iam = self._cloud.iam
        found = iam.get_service_account(i.project, email) if world.readable("iam.googleapis.com") else None
        world.accounts[email] = found is not None
        resource = f"projects/{i.project}/serviceAccounts/{email}"
        if found is not None:
            result.plan.add(Step(Action.NOOP, resource, f"service account {account_id} exists"))
            return
        body = service_account_body(account_id, display, about)

        def create() -> None:
            if iam.get_service_account(i.project, email) is None:
                iam.create_service_account(i.project, email, body)
            world.accounts[email] = True

        result.plan.add(
            Step(
                Action.CREATE,
                resource,
                f"create service account {email} (no key is ever made)",
                {"method": "POST", "url": f"/v1/projects/{i.project}/serviceAccounts", "body": body},
                apply=create,
            )
        )

    # -- 6. project roles ----------------------------------------------------------------------------------------------
    def _project_grants(self, inputs: BootstrapInputs) -> list[tuple[str, str]]:
        build = f"serviceAccount:{inputs.build_account}"
        runtime = f"serviceAccount:{inputs.runtime_account}"
        grants = [(grant.role, build) for grant in roles.build_account_roles()]
        grants += [(grant.role, runtime) for grant in roles.runtime_account_roles(vms=inputs.vms)]
        for member in inputs.members:
            grants += [(grant.role, member) for grant in roles.developer_roles(vms=inputs.vms)]
        return grants

    def _plan_project_roles(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        rm = self._cloud.resource_manager
        grants = self._project_grants(i)
        policy = rm.get_iam_policy(i.project) if world.readable("cloudresourcemanager.googleapis.com") else {}
        missing = missing_grants(policy, grants)
        resource = f"projects/{i.project}:iam"
        if not missing:
            result.plan.add(Step(Action.NOOP, resource, f"project roles are granted ({len(grants)} bindings)"))
            return

        def grant() -> None:
            self._read_modify_write(
                f"project {i.project}",
                lambda: rm.get_iam_policy(i.project),
                lambda updated: rm.set_iam_policy(i.project, updated),
                grants,
            )

        result.plan.add(
            Step(
                Action.UPDATE,
                resource,
                f"grant {len(missing)} project roles: {_describe_grants(missing)}",
                {
                    "method": "POST",
                    "url": f"/v3/projects/{i.project}:setIamPolicy",
                    "body": {"policy": add_bindings(policy, missing)},
                },
                apply=grant,
            )
        )

    def _read_modify_write(
        self,
        what: str,
        read: Callable[[], dict[str, Any]],
        write: Callable[[dict[str, Any]], dict[str, Any]],
        grants: list[tuple[str, str]],
    ) -> None:
        """Grant by read-modify-write with the etag; on a concurrent change, redo it all, backing off with jitter."""
        delay = 0.5
        for attempt in range(1, POLICY_ATTEMPTS + 1):
            updated = add_bindings(read(), grants)
            if updated is None:
                return
            try:
                write(updated)
                return
            except PolicyConflict as conflict:
                if attempt == POLICY_ATTEMPTS:
                    raise DeployerError(
                        f"the IAM policy of {what} kept changing while deployer updated it "
                        f"({POLICY_ATTEMPTS} attempts): {conflict.message}",
                        "run the same command again; nothing already granted is lost",
                    ) from conflict
                self._reporter.info(f"The IAM policy of {what} changed meanwhile: reading it again")
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 16.0)

    # -- 7. GitHub Actions through Workload Identity Federation --------------------------------------------------------
    def _plan_github(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        assert i.github is not None
        iam = self._cloud.iam
        readable = world.readable("iam.googleapis.com")
        pool = iam.get_pool(i.project, POOL_ID) if readable else None
        pool_name = pool_resource(i.project, POOL_ID)

        def ensure_pool() -> None:
            current = iam.get_pool(i.project, POOL_ID)
            if current is None:
                iam.create_pool(i.project, POOL_ID, pool_body())
            elif current.deleted:
                iam.undelete_pool(i.project, POOL_ID)
            elif current.disabled:
                iam.enable_pool(i.project, POOL_ID)

        if pool is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    pool_name,
                    f"create workload identity pool {POOL_ID}",
                    {
                        "method": "POST",
                        "url": f"/v1/projects/{i.project}/locations/global/workloadIdentityPools"
                        f"?workloadIdentityPoolId={POOL_ID}",
                        "body": pool_body(),
                    },
                    apply=ensure_pool,
                )
            )
        elif pool.deleted:
            result.plan.add(
                Step(
                    Action.UPDATE,
                    pool_name,
                    f"undelete workload identity pool {POOL_ID} (deleted less than 30 days ago, its id is reserved)",
                    {"method": "POST", "url": f"/v1/{pool_name}:undelete", "body": {}},
                    apply=ensure_pool,
                )
            )
        elif pool.disabled:
            result.plan.add(
                Step(
                    Action.UPDATE,
                    pool_name,
                    f"enable workload identity pool {POOL_ID} (it is disabled)",
                    {"method": "PATCH", "url": f"/v1/{pool_name}?updateMask=disabled", "body": {"disabled": False}},
                    apply=ensure_pool,
                )
            )
        else:
            result.plan.add(Step(Action.NOOP, pool_name, f"workload identity pool {POOL_ID} exists"))
        self._plan_provider(result, readable and pool is not None and not pool.deleted)

    def _plan_provider(self, result: BootstrapResult, readable: bool) -> None:
        i = result.inputs
        assert i.github is not None
        iam = self._cloud.iam
        repository = i.github
        desired = github_provider_body(repository)
        provider = iam.get_provider(i.project, POOL_ID, PROVIDER_ID) if readable else None
        name = provider_resource(i.project, POOL_ID, PROVIDER_ID)

        def ensure() -> None:
            current = iam.get_provider(i.project, POOL_ID, PROVIDER_ID)
            if current is None:
                iam.create_provider(i.project, POOL_ID, PROVIDER_ID, desired)
                return
            if current.deleted:
                current = iam.undelete_provider(i.project, POOL_ID, PROVIDER_ID)
            changed = provider_differences(current.doc, desired)
            if changed:
                iam.update_provider(i.project, POOL_ID, PROVIDER_ID, desired, changed)

        bound = f"bound to {repository} ({desired['attributeCondition']})"
        if provider is None:
            step = Step(
                Action.CREATE,
                name,
                f"create GitHub OIDC provider {PROVIDER_ID}, {bound}",
                {
                    "method": "POST",
                    "url": f"/v1/{pool_resource(i.project, POOL_ID)}/providers"
                    f"?workloadIdentityPoolProviderId={PROVIDER_ID}",
                    "body": desired,
                },
                apply=ensure,
            )
        elif provider.deleted:
            step = Step(
                Action.UPDATE,
                name,
                f"undelete GitHub OIDC provider {PROVIDER_ID} and keep it {bound}",
                {"method": "POST", "url": f"/v1/{name}:undelete", "body": {}},
                apply=ensure,
            )
        else:
            changed = provider_differences(provider.doc, desired)
            if not changed:
                step = Step(Action.NOOP, name, f"GitHub OIDC provider {PROVIDER_ID} exists, {bound}")
            else:
                was = provider.doc.get("attributeCondition") or "no condition"
                step = Step(
                    Action.UPDATE,
                    name,
                    f"update GitHub OIDC provider {PROVIDER_ID} ({', '.join(changed)}): now {bound}, was {was}",
                    {"method": "PATCH", "url": f"/v1/{name}?updateMask={','.join(changed)}", "body": desired},
                    apply=ensure,
                )
        result.plan.add(step)

    # -- 8. who may act as the service accounts ------------------------------------------------------------------------
    def _account_grants(self, result: BootstrapResult, email: str) -> list[tuple[str, str]]:
        i = result.inputs
        build = f"serviceAccount:{i.build_account}"
        runtime = f"serviceAccount:{i.runtime_account}"
        users = [*([i.caller] if i.caller else []), *i.members]
        if email == i.runtime_account:
            # The build account deploys from build steps; the runtime account deploys itself from CI.
            users += [build, runtime]
        else:
            # The deploy account submits builds that run as the build account.
            users += [runtime]
        grants = [(roles.SERVICE_ACCOUNT_USER, member) for member in dict.fromkeys(users)]
        if email == i.runtime_account and i.github:
            principal = github_principal_set(result.world.project_number(), POOL_ID, i.github)
            grants.append((roles.WORKLOAD_IDENTITY_USER, principal))
        return grants

    def _plan_account_policies(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        if i.caller is None:
            self._reporter.warn(
                "cannot tell from the credentials who you are: you get no actAs grant on the deploy account "
                "(add yourself with --member user:YOU@EXAMPLE.COM)"
            )
        iam = self._cloud.iam
        for email in (i.runtime_account, i.build_account):
            exists = world.accounts.get(email, False)
            policy = iam.get_account_policy(i.project, email) if exists else {}
            grants = self._account_grants(result, email)
            missing = missing_grants(policy, grants)
            resource = f"projects/{i.project}/serviceAccounts/{email}:iam"
            if not missing:
                result.plan.add(Step(Action.NOOP, resource, f"who may act as {email} is set"))
                continue

            def grant(email: str = email) -> None:
                self._read_modify_write(
                    email,
                    lambda: iam.get_account_policy(i.project, email),
                    lambda updated: iam.set_account_policy(i.project, email, updated),
                    self._account_grants(result, email),
                )

            result.plan.add(
                Step(
                    Action.UPDATE,
                    resource,
                    f"on {email}, grant {_describe_grants(missing)}",
                    {
                        "method": "POST",
                        "url": f"/v1/projects/{i.project}/serviceAccounts/{email}:setIamPolicy",
                        "body": {"policy": add_bindings(policy, missing)},
                    },
                    apply=grant,
                )
            )

    # -- 9. the budget -------------------------------------------------------------------------------------------------
    def _plan_budget(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        assert i.budget is not None
        account = world.billing_account
        assert account is not None  # billing planning either found one or refused to go on
        budgets = self._cloud.budgets
        existing = (
            self._find_budget(account, i.project, world.number)
            if world.number is not None and world.readable(BUDGETS_API)
            else None
        )
        shown = f"{i.budget:g}{' ' + i.budget_currency if i.budget_currency else ''}"
        resource = f"billingAccounts/{account}/budgets ({budget_display_name(i.project)})"

        def desired() -> dict[str, Any]:
            assert i.budget is not None
            return budget_body(i.project, world.project_number(), i.budget, i.budget_currency)

        def ensure() -> None:
            assert world.number is not None
            current = self._find_budget(account, i.project, world.number)
            if current is None:
                budgets.create(account, desired())
                return
            changed = budget_differences(current, desired())
            if changed:
                budgets.update({**desired(), "name": current["name"], "etag": current.get("etag", "")}, changed)

        if existing is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    resource,
                    f"create a monthly budget of {shown} for this project, alerting at 50, 90 and 100 %",
                    {"method": "POST", "url": f"/v1/billingAccounts/{account}/budgets", "body": desired()},
                    apply=ensure,
                )
            )
            return
        changed = budget_differences(existing, desired())
        if not changed:
            result.plan.add(Step(Action.NOOP, existing["name"], f"budget of {shown} exists, alerting at 50/90/100 %"))
            return
        result.plan.add(
            Step(
                Action.UPDATE,
                existing["name"],
                f"update the budget ({', '.join(changed)}) to {shown}, alerting at 50, 90 and 100 %",
                {
                    "method": "PATCH",
                    "url": f"/v1/{existing['name']}?updateMask={','.join(changed)}",
                    "body": {**desired(), "name": existing["name"]},
                },
                apply=ensure,
            )
        )

    def _find_budget(self, account: str, project: str, number: str) -> dict[str, Any] | None:
        found = self._cloud.budgets.list_budgets(account, project_number=number)
        named = [b for b in found if b.get("displayName") == budget_display_name(project)]
        candidates = named or found
        return candidates[0] if candidates else None


def _describe_grants(grants: list[tuple[str, str]]) -> str:
    by_member: dict[str, list[str]] = {}
    for role, member in grants:
        by_member.setdefault(member, []).append(role.removeprefix("roles/"))
    return "; ".join(f"{member}: {', '.join(names)}" for member, names in by_member.items())


def _age(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days" if seconds != 86400 else "1 day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds}s"


def bootstrap_accounts(cloud: GoogleCloud, project: str) -> tuple[str | None, str | None]:
    """The build and deploy/runtime service accounts bootstrap made in ``project``, each None when absent.

    Reads only (a GET each). A caller who may not read an account (no iam.serviceAccounts.get) still learns
    whether it exists, through testIamPermissions, which any caller may call; then deploy's actAs check names the
    grant that is missing instead of silently falling back to Google's default accounts.
    """
    found: list[str | None] = []
    for account_id in (roles.BUILD_ACCOUNT_ID, roles.RUNTIME_ACCOUNT_ID):
        email = roles.service_account_email(account_id, project)
        try:
            account = cloud.iam.get_service_account(project, email)
            found.append(account.email if account is not None and not account.disabled else None)
        except DeployerError:
            try:
                found.append(email if cloud.iam.account_exists(project, email) else None)
            except DeployerError:
                found.append(None)
    return found[0], found[1]
