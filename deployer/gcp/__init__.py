"""Thin adapters over the Google APIs: the only package that imports google.cloud.*, always lazily.

Each adapter returns deployer's own small dataclasses and raises DeployerError with a fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

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

AdapterT = TypeVar("AdapterT")


class _Adapter(Generic[AdapterT]):
    """An adapter of a GoogleCloud, built from its clients on first use and kept (like cached_property)."""

    def __init__(self, build: Any) -> None:
        self.build = build

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, cloud: None, owner: type) -> _Adapter[AdapterT]: ...
    @overload
    def __get__(self, cloud: GoogleCloud, owner: type) -> AdapterT: ...
    def __get__(self, cloud: GoogleCloud | None, owner: type) -> _Adapter[AdapterT] | AdapterT:
        if cloud is None:
            return self
        adapter: AdapterT = self.build(cloud.clients)
        cloud.__dict__[self.name] = adapter  # later reads find it on the instance, not here
        return adapter


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

    cloud_build = _Adapter[CloudBuildAdapter](CloudBuildAdapter)
    artifact_registry = _Adapter[ArtifactRegistryAdapter](ArtifactRegistryAdapter)
    run = _Adapter[CloudRunAdapter](CloudRunAdapter)
    run_jobs = _Adapter[CloudRunJobsAdapter](CloudRunJobsAdapter)
    compute = _Adapter[ComputeAdapter](ComputeAdapter)
    resource_manager = _Adapter[ResourceManagerAdapter](ResourceManagerAdapter)
    billing = _Adapter[BillingAdapter](BillingAdapter)
    service_usage = _Adapter[ServiceUsageAdapter](ServiceUsageAdapter)
    iam = _Adapter[IamAdapter](IamAdapter)
    budgets = _Adapter[BudgetsAdapter](BudgetsAdapter)

    def logging(self, project: str) -> LoggingAdapter:
        from deployer.gcp.logging import LoggingAdapter

        return LoggingAdapter(self.clients, project)

    cloud_quotas = _Adapter[CloudQuotasAdapter](CloudQuotasAdapter)


__all__ = ["GoogleCloud", "Target"]
