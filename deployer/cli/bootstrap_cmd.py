"""``deployer bootstrap``."""

from __future__ import annotations

from typing import Any

import typer

from deployer.cli import common


@common.shared_options()
def bootstrap(
    opts: common.Shared = common.DEFAULTS,
    create: bool = typer.Option(False, "--create", help="Create the project when it does not exist."),
    parent: str = typer.Option(
        None, "--parent", help="Where a created project goes: organizations/N or folders/N [bootstrap.parent]."
    ),
    billing_account: str = typer.Option(
        None,
        "--billing-account",
        help="Billing account to link, e.g. 012345-6789AB-CDEF01 [bootstrap.billing_account].",
    ),
    member: list[str] = typer.Option(
        [],
        "--member",
        help="Grant a team member the developer roles: user:EMAIL, group:EMAIL, serviceAccount:EMAIL or "
        "domain:DOMAIN (repeatable; adds to bootstrap.members).",
    ),
    github: str = typer.Option(
        None,
        "--github",
        help="OWNER/REPO[@BRANCH|@refs/...|@environment:NAME] whose GitHub Actions may deploy, keylessly, as the "
        "CI deployer [bootstrap.github].",
    ),
    github_repository_id: str = typer.Option(
        None,
        "--github-repository-id",
        help="The repository's numeric id the trust is bound to (default: asked of api.github.com; "
        "`gh api repos/OWNER/REPO --jq .id` prints it).",
    ),
    github_owner_id: str = typer.Option(
        None,
        "--github-owner-id",
        help="The repository owner's numeric id (default: asked of api.github.com; "
        "`gh api repos/OWNER/REPO --jq .owner.id`).",
    ),
    budget: float = typer.Option(
        None, "--budget", help="Monthly budget for the project, alerts at 50/90/100 % [bootstrap.budget]."
    ),
    budget_currency: str = typer.Option(
        None, "--budget-currency", help="Currency of --budget, e.g. EUR (default: the billing account's)."
    ),
) -> None:
    """Set up a project for deployer: project, billing, APIs, repository, service accounts, team, GitHub, budget.

    Shows the plan (what exists and matches, what will be created or changed) and asks before applying unless
    --yes. Safe to run again: an unchanged project sends no mutating request, and an interrupted run finishes.
    """
    from contextlib import nullcontext

    from deployer.cli import flow
    from deployer.gcp import GoogleCloud
    from deployer.services.bootstrap import Bootstrapper, BootstrapResult, inputs_from_config

    config = opts.load()
    cloud = GoogleCloud()
    inputs = inputs_from_config(
        config,
        create=create,
        parent=parent,
        billing_account=billing_account,
        members=tuple(member),
        github=github,
        github_repository_id=github_repository_id,
        github_owner_id=github_owner_id,
        budget=budget,
        budget_currency=budget_currency,
        caller=cloud.clients.caller(),
    )
    reporter = opts.reporter()
    reporter.info(f"Planning the setup of project {inputs.project} ({inputs.region})")

    def render(result: BootstrapResult) -> None:
        if result.changed:
            reporter.finished(f"Applied {len(result.plan.changes)} change(s)")
        else:
            reporter.info(f"Project {inputs.project} is already set up: nothing changed")
        _print_summary(result.to_json())

    flow.run(
        nullcontext(Bootstrapper(cloud, reporter).plan(inputs)),
        opts.flags(),
        render=render,
        ask="Apply these changes?",
    )


def _print_summary(doc: dict[str, Any]) -> None:
    from deployer.cli.output import out

    out(f"Project {doc['project']} (number {doc['project_number']}) is ready for deployer in {doc['region']}")
    out(f"  build account:   {doc['build_service_account']}")
    out(f"  deploy account:  {doc['runtime_service_account']}")
    out(f"  repository:      {doc['repository']}")
    if doc["members"]:
        out(f"  developers:      {', '.join(doc['members'])}")
    if doc["budget"]:
        out(f"  budget:          {doc['budget']['amount']:g} a month, alerts at 50/90/100 %")
    github = doc["github"]
    if github:
        out(f"GitHub Actions of {github['repository']} may deploy without a key:")
        out(f"  workload identity provider: {github['workload_identity_provider']}")
        out(f"  service account:            {github['service_account']}")
        out("  store them (and the project and region) as repository variables:")
        for command in github["commands"]:
            out(f"    {command}")
