"""Thin adapters over the Google APIs: the only package that imports google.cloud.*, always lazily.

Each adapter returns deployer's own small dataclasses and raises DeployerError with a fix.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from deployer.gcp.artifactregistry import ArtifactRegistryAdapter
from deployer.gcp.billing import BillingAdapter
from deployer.gcp.budgets import BudgetsAdapter
from deployer.gcp.clients import Clients, Target
from deployer.gcp.cloudbuild import CloudBuildAdapter
from deployer.gcp.cloudquotas import CloudQuotasAdapter
from deployer.gcp.compute import ComputeAdapter
from deployer.gcp.iam import IamAdapter
from deployer.gcp.resourcemanager import ResourceManagerAdapter
from deployer.gcp.run import CloudRunAdapter
from deployer.gcp.run_jobs import CloudRunJobsAdapter
from deployer.gcp.serviceusage import ServiceUsageAdapter
from deployer.gcp.storage import StorageAdapter

if TYPE_CHECKING:
    from deployer.gcp.logging import LoggingAdapter


class GoogleCloud:
    """Every adapter a service may need, sharing one set of credentials and endpoint options."""

    def __init__(self, target: Target | None = None) -> None:
        self.target = target or Target.from_environment()
        self.clients = Clients(self.target)
        self._storage: dict[str, StorageAdapter] = {}

    def storage(self, project: str) -> StorageAdapter:
        if project not in self._storage:
            self._storage[project] = StorageAdapter(self.clients, project)
        return self._storage[project]

    @cached_property
    def cloud_build(self) -> CloudBuildAdapter:
        return CloudBuildAdapter(self.clients)

    @cached_property
    def artifact_registry(self) -> ArtifactRegistryAdapter:
        return ArtifactRegistryAdapter(self.clients)

    @cached_property
    def run(self) -> CloudRunAdapter:
        return CloudRunAdapter(self.clients)

    @cached_property
    def run_jobs(self) -> CloudRunJobsAdapter:
        return CloudRunJobsAdapter(self.clients)

    def logging(self, project: str) -> LoggingAdapter:
        from deployer.gcp.logging import LoggingAdapter

        return LoggingAdapter(self.clients, project)

    @cached_property
    def compute(self) -> ComputeAdapter:
        return ComputeAdapter(self.clients)

    @cached_property
    def resource_manager(self) -> ResourceManagerAdapter:
        return ResourceManagerAdapter(self.clients)

    @cached_property
    def billing(self) -> BillingAdapter:
        return BillingAdapter(self.clients)

    @cached_property
    def service_usage(self) -> ServiceUsageAdapter:
        return ServiceUsageAdapter(self.clients)

    @cached_property
    def iam(self) -> IamAdapter:
        return IamAdapter(self.clients)

    @cached_property
    def budgets(self) -> BudgetsAdapter:
        return BudgetsAdapter(self.clients)

    @cached_property
    def cloud_quotas(self) -> CloudQuotasAdapter:
        return CloudQuotasAdapter(self.clients)


__all__ = ["GoogleCloud", "Target"]
