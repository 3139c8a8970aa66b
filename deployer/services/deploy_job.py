"""``deployer deploy`` for a Cloud Run job: build if needed, then create or update the job; nothing is run.

Only the fields deployer.toml owns are compared and written (UpdateJob replaces the job, so the rest is sent back
as read). An unchanged job sends no mutating request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deployer.config.job import JobConfig
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.run_job import JobSpec, job_body, job_differences, updated_job
from deployer.plan import Action, Result, Step
from deployer.reporter import Reporter
from deployer.services.build import BuildInputs, BuildResult, PreparedSource, digest_of, planned_image


@dataclass
class JobDeployResult(Result):
    job: str
    project: str
    region: str
    image: str = ""
    digest: str | None = None
    build: BuildResult | None = None

    @property
    def full_name(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/jobs/{self.job}"

    def fields(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "project": self.project,
            "region": self.region,
            "image": self.image,
            "digest": self.digest,
            "build": self.build.to_json() if self.build else None,
        }


def job_spec(config: JobConfig, image: str) -> JobSpec:
    return JobSpec(
        image=image,
        env=tuple(sorted(config.env.items())),
        cpu=config.cpu,
        memory=config.memory,
        tasks=config.tasks,
        parallelism=config.parallelism,
        max_retries=config.max_retries,
        timeout_s=config.timeout,
        service_account=config.service_account,
        args=tuple(config.args),
        command=tuple(config.command),
    )


class JobDeployer:
    def __init__(self, cloud: GoogleCloud, reporter: Reporter) -> None:
        self._cloud = cloud
        self._reporter = reporter

    @contextmanager
    def planned(
        self,
        name: str,
        config: JobConfig,
        *,
        project: str,
        region: str,
        build_inputs: BuildInputs | None,
        image: str | None = None,
        source: PreparedSource | None = None,
    ) -> Iterator[JobDeployResult]:
        """Compute the plan (reads only); the packed context lives until the block ends, for the apply."""
        result = JobDeployResult(job=name, project=project, region=region)
        current = self._cloud.run_jobs.get_job(result.full_name)
        with planned_image(
            self._cloud, self._reporter, result.plan, image=image, build_inputs=build_inputs, source=source
        ) as result.build:
            self._plan_job(result, config, image, current)
            yield result

    def _image(self, result: JobDeployResult, image: str | None) -> str:
        if image is not None:
            return image
        assert result.build is not None
        return result.build.reference

    def _plan_job(
        self, result: JobDeployResult, config: JobConfig, image: str | None, current: dict[str, Any] | None
    ) -> None:
        parent = f"projects/{result.project}/locations/{result.region}"
        jobs = self._cloud.run_jobs
        desired = job_body(job_spec(config, self._image(result, image)))
        result.image = result.build.image if result.build else (image or "").split("@", 1)[0]
        result.digest = result.build.digest if result.build else digest_of(image)
        if current is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    result.full_name,
                    f"create Cloud Run job {result.job}",
                    {"method": "POST", "url": f"/v2/{parent}/jobs?jobId={result.job}", "body": desired},
                    apply=lambda: self._apply(result, config, image, None),
                    validate=lambda: jobs.create_job(parent, result.job, desired, validate_only=True),
                )
            )
            return
        changed = job_differences(desired, current)
        build_pending = result.build is not None and result.build.digest is None
        if not changed and not build_pending:
            result.plan.add(Step(Action.NOOP, result.full_name, "job is up to date"))
            return
        what = ", ".join(p.replace("template.template.containers[0].", "") for p in changed) or "the image, once built"
        body = updated_job(current, desired)
        result.plan.add(
            Step(
                Action.UPDATE,
                result.full_name,
                f"update job {result.job}: {what}",
                {"method": "PATCH", "url": f"/v2/{result.full_name}", "body": body},
                apply=lambda: self._apply(result, config, image, current),
                validate=lambda: jobs.update_job(body, validate_only=True),
            )
        )

    def _apply(
        self, result: JobDeployResult, config: JobConfig, image: str | None, current: dict[str, Any] | None
    ) -> None:
        """Create or update, with the image as built."""
        desired = job_body(job_spec(config, self._image(result, image)))
        result.digest = result.build.digest if result.build else digest_of(image)
        jobs = self._cloud.run_jobs
        with self._reporter.activity(f"Deploying job {result.job} to Cloud Run ({result.region})"):
            if current is None:
                jobs.create_job(f"projects/{result.project}/locations/{result.region}", result.job, desired)
            elif job_differences(desired, current):
                jobs.update_job(updated_job(current, desired))
            else:
                self._reporter.info("The new build produced the image the job already runs: job unchanged")
