"""``deployer deploy`` for a Cloud Run job: build if needed, then create or update the job; nothing is run.

Only the fields deployer.toml owns are compared and written (UpdateJob replaces the job, so the rest is sent back
as read). An unchanged job sends no mutating request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deployer.config.job import JobConfig
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.run_job import JobSpec, job_body, job_differences, updated_job
from deployer.plan import Action, Result, Step, attributes
from deployer.reporter import Reporter
from deployer.services.build import BuildResult, Placement, digest_of, planned_image
from deployer.services.deployed import tag_deployed


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
        plain = attributes(self, "job", "project", "region", "image", "digest")
        return {**plain, "build": self.build.to_json() if self.build else None}


_SAME_NAMES = ("cpu", "memory", "tasks", "parallelism", "max_retries", "service_account")


def job_spec(config: JobConfig, image: str) -> JobSpec:
    same = {key: getattr(config, key) for key in _SAME_NAMES}
    env, args, command = tuple(sorted(config.env.items())), tuple(config.args), tuple(config.command)
    gpu_type, zonal = (config.gpu.type, config.gpu.zonal_redundancy) if config.gpu else ("", True)
    return JobSpec(
        image=image, env=env, timeout_s=config.timeout, args=args, command=command, gpu_type=gpu_type,
        gpu_zonal_redundancy=zonal, **same
    )  # fmt: skip


@dataclass(frozen=True)
class JobDeployer:
    """Plans one job's deploy: ``where`` is (project, region); ``image`` deploys that image instead of a build."""

    cloud: GoogleCloud
    reporter: Reporter

    @contextmanager
    def planned(self, name: str, config: JobConfig, where: Placement) -> Iterator[JobDeployResult]:
        """Compute the plan (reads only); the packed context lives until the block ends, for the apply."""
        result = JobDeployResult(job=name, project=where.project, region=where.region)
        current = self.cloud.run_jobs.get_job(result.full_name)
        with planned_image(self.cloud, self.reporter, result.plan, where) as result.build:
            self._plan_job(result, config, where.image, current)
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
        jobs = self.cloud.run_jobs
        desired = job_body(job_spec(config, self._image(result, image)))
        result.image = result.build.image if result.build else (image or "").split("@", 1)[0]
        result.digest = result.build.digest if result.build else digest_of(image)
        if current is None:
            action, url, summary, body = Action.CREATE, f"/v2/{parent}/jobs?jobId={result.job}", "create", desired
            check: Callable[[], object] = lambda: jobs.create_job(parent, result.job, desired, validate_only=True)  # noqa: E731
        else:
            changed = job_differences(desired, current)
            if not changed and (result.build is None or result.build.digest is not None):
                result.plan.add(Step(Action.NOOP, result.full_name, "job is up to date"))
                return
            paths = [p.replace("template.template.containers[0].", "") for p in changed]
            action, url, body = Action.UPDATE, f"/v2/{result.full_name}", updated_job(current, desired)
            summary = f"update ({', '.join(paths) or 'the image, once built'}):"
            check = lambda: jobs.update_job(body, validate_only=True)  # noqa: E731
        result.plan.add(
            Step(
                action,
                result.full_name,
                f"{summary} Cloud Run job {result.job}",
                {"method": "PATCH" if current else "POST", "url": url, "body": body},
                apply=lambda: self._apply(result, config, image, current),
                validate=check,
            )
        )

    def _apply(
        self, result: JobDeployResult, config: JobConfig, image: str | None, current: dict[str, Any] | None
    ) -> None:
        """Create or update, with the image as built."""
        desired = job_body(job_spec(config, self._image(result, image)))
        result.digest = result.build.digest if result.build else digest_of(image)
        jobs = self.cloud.run_jobs
        with self.reporter.activity(f"Deploying job {result.job} to Cloud Run ({result.region})"):
            if current is None:
                jobs.create_job(f"projects/{result.project}/locations/{result.region}", result.job, desired)
            elif job_differences(desired, current):
                jobs.update_job(updated_job(current, desired))
            else:
                self.reporter.info("The new build produced the image the job already runs: job unchanged")
        tag_deployed(self.cloud, self.reporter, self._image(result, image), "job", result.job)
