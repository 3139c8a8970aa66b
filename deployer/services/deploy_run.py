"""``deployer deploy`` for a Cloud Run service: build if needed, then create or update the service.

Only the fields deployer.toml owns are compared and written; everything else stays as Google (or the user) has
it. An unchanged service sends no mutating request. A revision that fails leaves traffic where it was, and the
error says what Google reported and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from deployer.config import ServiceConfig
from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies import ServiceSpec, merge_owned, owned_differences, service_body, with_public_access
from deployer.gcp.run import RevisionFailure, RunService
from deployer.plan import Action, Plan, Step
from deployer.reporter import Reporter
from deployer.services.build import BuildInputs, BuildPlanner, BuildResult, apply_plan, prepare_source

REVISION_TIMEOUT_S = 900.0


@dataclass
class DeployResult:
    service: str
    project: str
    region: str
    url: str = ""
    image: str = ""
    digest: str | None = None
    revision: str = ""
    build: BuildResult | None = None
    plan: Plan = field(default_factory=Plan)
    dry_run: bool = False

    def to_json(self, *, with_requests: bool = False) -> dict[str, Any]:
        return {
            "service": self.service,
            "project": self.project,
            "region": self.region,
            "url": self.url,
            "image": self.image,
            "digest": self.digest,
            "revision": self.revision,
            "dry_run": self.dry_run,
            "changed": bool(self.plan.changes),
            "build": self.build.to_json() if self.build else None,
            "steps": self.plan.to_json(with_request=with_requests),
        }


def service_spec(config: ServiceConfig, image: str) -> ServiceSpec:
    return ServiceSpec(
        image=image,
        env=tuple(sorted(config.env.items())),
        cpu=config.cpu,
        memory=config.memory,
        min_instances=config.min_instances,
        max_instances=config.max_instances,
        concurrency=config.concurrency,
        port=config.port,
        timeout_s=config.timeout,
        service_account=config.service_account,
        args=tuple(config.args),
        command=tuple(config.command),
    )


class RunDeployer:
    def __init__(self, cloud: GoogleCloud, reporter: Reporter) -> None:
        self._cloud = cloud
        self._reporter = reporter

    @contextmanager
    def planned(
        self,
        name: str,
        config: ServiceConfig,
        *,
        project: str,
        region: str,
        build_inputs: BuildInputs | None,
        image: str | None = None,
    ) -> Iterator[DeployResult]:
        """Compute the plan (reads only). The packed context lives until the block ends, for ``apply_plan``."""
        result = DeployResult(service=name, project=project, region=region)
        source = None
        try:
            if image is None:
                if build_inputs is None:
                    raise DeployerError("nothing to deploy: neither a build nor an image was given")
                source = prepare_source(build_inputs, self._reporter)
                result.build = BuildPlanner(self._cloud, self._reporter).plan(build_inputs, source, result.plan)
            self._plan_service(result, config, image)
            yield result
        finally:
            if source is not None:
                source.cleanup()

    def deploy(
        self,
        name: str,
        config: ServiceConfig,
        *,
        project: str,
        region: str,
        build_inputs: BuildInputs | None,
        image: str | None = None,
        dry_run: bool = False,
    ) -> DeployResult:
        with self.planned(
            name, config, project=project, region=region, build_inputs=build_inputs, image=image
        ) as result:
            result.dry_run = dry_run
            if not dry_run:
                apply_plan(result.plan)
        return result

    def _desired_image(self, result: DeployResult, image: str | None) -> str:
        if image is not None:
            return image
        assert result.build is not None
        return result.build.reference

    def _plan_service(self, result: DeployResult, config: ServiceConfig, image: str | None) -> None:
        parent = f"projects/{result.project}/locations/{result.region}"
        name = f"{parent}/services/{result.service}"
        run = self._cloud.run
        current = run.get_service(name)
        desired = service_body(service_spec(config, self._desired_image(result, image)))
        result.image = result.build.image if result.build else (image or "").split("@", 1)[0]
        result.digest = result.build.digest if result.build else _digest_of(image)

        def finish(service: RunService) -> None:
            result.url = service.uri
            result.revision = service.latest_ready_revision

        if current is not None:
            finish(current)
        if current is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    name,
                    f"create Cloud Run service {result.service}",
                    {"method": "POST", "url": f"/v2/{parent}/services?serviceId={result.service}", "body": desired},
                    apply=lambda: self._apply_service(result, config, image, parent, None),
                )
            )
        else:
            changed = owned_differences(desired, current.doc)
            build_pending = result.build is not None and result.build.digest is None
            if not changed and not build_pending:
                result.plan.add(Step(Action.NOOP, name, "service is up to date"))
            else:
                what = ", ".join(_short_path(p) for p in changed) or "the image, once built"
                result.plan.add(
                    Step(
                        Action.UPDATE,
                        name,
                        f"update service {result.service}: {what}",
                        {"method": "PATCH", "url": f"/v2/{name}", "body": merge_owned(current.doc, desired)},
                        apply=lambda: self._apply_service(result, config, image, parent, current),
                    )
                )
        self._plan_access(result, config, name, current)

    def _apply_service(
        self,
        result: DeployResult,
        config: ServiceConfig,
        image: str | None,
        parent: str,
        current: RunService | None,
    ) -> None:
        """Create or update, with the image as built; waits until the new revision is ready."""
        desired = service_body(service_spec(config, self._desired_image(result, image)))
        result.digest = result.build.digest if result.build else _digest_of(image)
        run = self._cloud.run
        try:
            with self._reporter.activity(f"Deploying {result.service} to Cloud Run ({result.region})"):
                if current is None:
                    service = run.create_service(parent, result.service, desired, timeout_s=REVISION_TIMEOUT_S)
                else:
                    if not owned_differences(desired, current.doc):
                        # The build produced the image the service already runs: nothing to change.
                        self._reporter.info("The new build produced the running image: service unchanged")
                        return
                    service = run.update_service(merge_owned(current.doc, desired), timeout_s=REVISION_TIMEOUT_S)
        except RevisionFailure as failure:
            raise _explain_revision_failure(result, config, failure) from None
        result.url = service.uri
        result.revision = service.latest_ready_revision
        self._reporter.info(f"Revision {result.revision} is serving 100% of traffic")

    def _plan_access(self, result: DeployResult, config: ServiceConfig, name: str, current: RunService | None) -> None:
        run = self._cloud.run
        policy = run.get_iam_policy(name) if current is not None else {}
        updated = with_public_access(policy, config.public)
        if updated is None:
            state = "public" if config.public else "private (callers need run.invoker)"
            result.plan.add(Step(Action.NOOP, f"{name}:iam", f"access is {state}"))
            return
        verb = "allow unauthenticated calls (run.invoker for allUsers)" if config.public else "make private"

        def apply() -> None:
            # Read again at apply time: the policy's etag guards against overwriting a concurrent change.
            fresh = with_public_access(run.get_iam_policy(name), config.public)
            if fresh is not None:
                run.set_iam_policy(name, fresh)

        result.plan.add(
            Step(
                Action.UPDATE,
                f"{name}:iam",
                verb,
                {"method": "POST", "url": f"/v2/{name}:setIamPolicy", "body": {"policy": updated}},
                apply=apply,
            )
        )


def _digest_of(image: str | None) -> str | None:
    if image and "@" in image:
        return image.split("@", 1)[1]
    return None


def _short_path(path: str) -> str:
    return path.replace("template.containers[0].", "").replace("template.", "")


_PORT_FAILURE = re.compile(r"failed to start and listen on the port", re.IGNORECASE)
_IMAGE_MISSING = re.compile(r"Image '.*' not found", re.IGNORECASE)


def _explain_revision_failure(result: DeployResult, config: ServiceConfig, failure: RevisionFailure) -> DeployerError:
    service = failure.service
    serving = service.latest_ready_revision if service else ""
    where = f"traffic stays on {serving}" if serving else "the service has no ready revision, so nothing serves"
    failed = service.latest_created_revision if service else "the new revision"
    message = f"revision {failed} of {result.service} failed; {where}.\n  Google: {failure.message}"
    if _PORT_FAILURE.search(failure.message):
        hint = (
            f"the container must listen on 0.0.0.0:$PORT (deployer sets PORT={config.port}); check the Dockerfile's "
            "CMD uses $PORT, that the app binds 0.0.0.0 not 127.0.0.1, and the revision's logs for a crash"
        )
    elif _IMAGE_MISSING.search(failure.message):
        hint = "the image does not exist in Artifact Registry: run `deployer build` and deploy its image@digest"
    else:
        hint = "see the revision's logs in the Cloud Console (Cloud Run → the service → Revisions)"
    return DeployerError(message, hint)
