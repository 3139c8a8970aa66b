"""What a bootstrap found and did: the project's state as planning learned it, and the summary document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deployer.gcp.bodies.budgets import THRESHOLDS
from deployer.gcp.iam import (
    provider_resource,
)
from deployer.plan import Result
from deployer.services.bootstrap.inputs import (
    NUMBER_PLACEHOLDER,
    POOL_ID,
    PROVIDER_ID,
    BootstrapInputs,
    gh_commands,
    github_variables,
)


@dataclass
class _World:
    """What planning learned, and what applying learns (the number of a project created on the way)."""

    exists: bool = False
    number: str | None = None
    enabled: set[str] = field(default_factory=set)
    billing_account: str | None = None
    accounts: dict[str, bool] = field(default_factory=dict)  # email -> exists
    principals: set[str] = field(default_factory=set)  # members seen in the policies read

    def readable(self, api: str) -> bool:
        """Whether reads of ``api`` can tell anything yet (a new project, or a disabled API, has nothing there)."""
        return self.exists and api in self.enabled

    def project_number(self) -> str:
        return self.number or NUMBER_PLACEHOLDER


@dataclass
class BootstrapResult(Result):
    inputs: BootstrapInputs
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
        variables = github_variables(provider, i.ci_account, i.project, i.region)
        return {
            "repository": i.github,
            "ref": i.github_ref,
            "repository_id": i.github_ids[0] if i.github_ids else None,
            "repository_owner_id": i.github_ids[1] if i.github_ids else None,
            "workload_identity_provider": provider,
            "service_account": i.ci_account,
            "variables": variables,
            "commands": gh_commands(i.github, variables),
        }

    def fields(self) -> dict[str, Any]:
        i = self.inputs
        return {
            "project": i.project,
            "project_number": self.project_number,
            "region": i.region,
            "ci_service_account": i.ci_account,
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
        }
