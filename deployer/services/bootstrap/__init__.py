"""``deployer bootstrap``: from "I have a billing account" to a project deployer can build and deploy in.

The plan, in order: the project (created or adopted), the billing link, the APIs the targets need, the Artifact
Registry repository with its cleanup policies, the build and deploy/runtime service accounts, their project roles
and the team's, Workload Identity Federation for GitHub Actions, the service accounts' own policies (who may act as
them), and a budget. Planning only reads. Each step's action reads again before it writes, so a step that an
interrupted run already did is skipped, and a second run over an unchanged project is all no-ops.

The steps live by resource group: project.py (project, billing, APIs, repository, budget) and access.py (accounts,
roles, GitHub, the accounts' policies); inputs.py resolves what is asked, result.py says what was found and done.
"""

from __future__ import annotations

from deployer.gcp import GoogleCloud
from deployer.reporter import Reporter
from deployer.services.bootstrap.access import AccessSteps
from deployer.services.bootstrap.accounts import bootstrap_accounts
from deployer.services.bootstrap.inputs import (
    BASE_APIS,
    BUDGETS_API,
    GITHUB_VARIABLES,
    POOL_ID,
    BootstrapInputs,
    _batches,
    gh_commands,
    github_variables,
    inputs_from_config,
    needed_apis,
)
from deployer.services.bootstrap.project import ProjectSteps
from deployer.services.bootstrap.result import BootstrapResult


class Bootstrapper(ProjectSteps, AccessSteps):
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
        result.apply()


__all__ = [
    "BASE_APIS",
    "BUDGETS_API",
    "GITHUB_VARIABLES",
    "POOL_ID",
    "BootstrapInputs",
    "BootstrapResult",
    "Bootstrapper",
    "_batches",
    "bootstrap_accounts",
    "gh_commands",
    "github_variables",
    "inputs_from_config",
    "needed_apis",
]
