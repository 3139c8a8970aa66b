"""A [jobs.NAME] table: a Cloud Run job (the planner is services/deploy_job.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from deployer.errors import BadInput
from deployer.services.build import BuildInputs, inputs_from_config
from deployer.services.deploy_job import JobDeployer, JobDeployResult
from deployer.services.targets.base import DeployRequest

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig
    from deployer.gcp import GoogleCloud
    from deployer.reporter import Reporter
    from deployer.services.predeploy import ReadyToDeploy


class RunJobTarget:
    label = "Job"
    lint_target = "run"

    def __init__(self, config: ResolvedConfig, name: str) -> None:
        self.config = config
        self.name = name
        self.job = config.jobs[name]
        # A job configured with an image is deployed from it, as `deploy --image` would.
        self.default_image = self.job.image or None

    def check(self, request: DeployRequest) -> None:
        if request.preview is not None:
            raise BadInput(
                f"--preview is for Cloud Run services; {self.name} is a [jobs] target", "deploy it without --preview"
            )

    def build_inputs(self, request: DeployRequest) -> BuildInputs:
        return inputs_from_config(
            self.config,
            self.name,
            self.job,
            request.max_context_mb,
            request.allow_large_context,
            request.allow_credential_files,
        )

    def announce(self, cloud: GoogleCloud, inputs: BuildInputs) -> str:
        console = cloud.target.console_url(f"run/jobs/details/{inputs.region}/{self.name}", inputs.project)
        return f"Deploying job {self.name} to Cloud Run in {inputs.project}/{inputs.region}: {console}"

    def plan(
        self, cloud: GoogleCloud, reporter: Reporter, ready: ReadyToDeploy, request: DeployRequest
    ) -> AbstractContextManager[JobDeployResult]:
        job = self.job
        if ready.runtime_account and not job.service_account:
            job = job.model_copy(update={"service_account": ready.runtime_account})
        return JobDeployer(cloud, reporter).planned(
            self.name,
            job,
            project=ready.inputs.project,
            region=ready.inputs.region,
            build_inputs=None if request.image else ready.inputs,
            image=request.image,
            source=ready.source,
        )

    def summary(self, result: JobDeployResult) -> list[str]:
        return [
            f"Job {self.name}: deployed (nothing run; start it with `deployer run {self.name}`)",
            f"  image: {result.image}@{result.digest}",
        ]
