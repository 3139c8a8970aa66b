"""Bootstrap's steps for the project itself: the project, its billing link, the APIs, the Artifact Registry
repository and its cleanup policies, and the budget.
"""

from __future__ import annotations

from typing import Any

from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.artifactregistry import cleanup_policies, repository_body
from deployer.gcp.bodies.budgets import budget_body, budget_differences, budget_display_name
from deployer.gcp.bodies.labels import managed_by_label
from deployer.gcp.bodies.resourcemanager import project_body
from deployer.gcp.bodies.run import owned_differences
from deployer.gcp.serviceusage import MAX_BATCH
from deployer.plan import Action, Step
from deployer.reporter import Reporter
from deployer.services.bootstrap.inputs import BUDGETS_API, _batches, needed_apis
from deployer.services.bootstrap.result import BootstrapResult


class ProjectSteps:
    """Plans (reads only) the project, billing, API, repository and budget steps."""

    # The Bootstrapper (bootstrap/__init__.py) that mixes these steps in provides them.
    _cloud: GoogleCloud
    _reporter: Reporter

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


def _age(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days" if seconds != 86400 else "1 day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds}s"
