"""A [jobs.NAME] table: a Cloud Run job (the planner is services/deploy_job.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from deployer.config import ResolvedConfig
from deployer.errors import BadInput
from deployer.gcp import GoogleCloud
from deployer.reporter import Reporter
from deployer.services.build import BuildInputs
from deployer.services.deploy_job import JobDeployer, JobDeployResult
from deployer.services.predeploy import ReadyToDeploy
from deployer.services.run_gpu import check_gpu_region
from deployer.services.targets.base import DeployRequest, TableTarget, placement


class RunJobTarget(TableTarget):
    label = "Job"
    lint_target = "run"

    def __init__(self, config: ResolvedConfig, name: str) -> None:
        super().__init__(config, name)
        self.job = config.jobs[name]
        # A job configured with an image is deployed from it, as `deploy --image` would.
        self.default_image = self.job.image or None

    def check(self, request: DeployRequest) -> None:
        if request.preview is not None:
            raise BadInput(
                f"--preview is for Cloud Run services; {self.name} is a [jobs] target", "deploy it without --preview"
            )
        check_gpu_region(self.config, self.name, self.job)

    def build_inputs(self, request: DeployRequest) -> BuildInputs:
        return request.build_inputs(self.config, self.name, self.job)

    def announce(self, cloud: GoogleCloud, inputs: BuildInputs) -> str:
        where = f"{inputs.project}/{inputs.region}"
        page = cloud.target.console_url(f"run/jobs/details/{inputs.region}/{self.name}", inputs.project)
        return f"Deploying job {self.name} to Cloud Run in {where}: {page}"

    def plan(
        self, cloud: GoogleCloud, reporter: Reporter, ready: ReadyToDeploy, request: DeployRequest
    ) -> AbstractContextManager[JobDeployResult]:
        # A job without service_account runs as bootstrap's runtime account, when there is one.
        account = self.job.service_account or ready.runtime_account or ""
        job = self.job.model_copy(update={"service_account": account})
        return JobDeployer(cloud, reporter).planned(self.name, job, placement(ready, request))

    def summary(self, result: JobDeployResult) -> list[str]:
        return [
            f"Job {self.name}: deployed (nothing run; start it with `deployer run {self.name}`)",
            f"  image: {result.image}@{result.digest}",
        ]
