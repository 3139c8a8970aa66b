"""A [services.NAME] table: a Cloud Run service (the planner is services/deploy_run.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from deployer.services.build import BuildInputs
from deployer.services.deploy_run import (
    DeployResult,
    RunDeployer,
    TrafficAsk,
    check_preview_tag,
    check_traffic_flags,
)
from deployer.services.run_gpu import check_gpu_region
from deployer.services.targets.base import DeployRequest, TableTarget, placement

if TYPE_CHECKING:
    from deployer.config import ServiceConfig
    from deployer.gcp import GoogleCloud
    from deployer.reporter import Reporter
    from deployer.services.predeploy import ReadyToDeploy


class RunServiceTarget(TableTarget):
    label = "Service"
    lint_target = "run"

    @property
    def service(self) -> ServiceConfig:
        return self.config.services[self.name]

    def check(self, request: DeployRequest) -> None:
        check_gpu_region(self.config, self.name, self.service)
        if request.preview is not None:
            check_preview_tag(request.preview, self.name)
        check_traffic_flags(request.canary, request.to_latest, request.preview)

    def build_inputs(self, request: DeployRequest) -> BuildInputs:
        return request.build_inputs(self.config, self.name, self.service)

    def announce(self, cloud: GoogleCloud, inputs: BuildInputs) -> str:
        console = cloud.target.console_url(f"run/detail/{inputs.region}/{self.name}", inputs.project)
        return f"Deploying {self.name} to Cloud Run in {inputs.project}/{inputs.region}: {console}"

    def plan(
        self, cloud: GoogleCloud, reporter: Reporter, ready: ReadyToDeploy, request: DeployRequest
    ) -> AbstractContextManager[DeployResult]:
        service = self.service
        if ready.runtime_account and not service.service_account:
            service = service.model_copy(update={"service_account": ready.runtime_account})
        traffic = TrafficAsk(request.canary, request.to_latest)
        where = placement(ready, request)
        return RunDeployer(cloud, reporter).planned(self.name, service, where, preview=request.preview, traffic=traffic)

    def summary(self, result: DeployResult) -> list[str]:
        if result.preview:
            first = f"Preview {result.preview} of {self.name} (no traffic): {result.url}"
        else:
            first = f"Service {self.name}: {result.url}"
        lines = [first, f"  image:    {result.image}@{result.digest}", f"  revision: {result.revision}"]
        if result.share is not None and not result.preview:
            lines.append(
                f"  traffic:  {result.share} %" + (f" (split kept: {result.kept_split})" if result.kept_split else "")
            )
        return lines
