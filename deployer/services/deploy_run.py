"""``deployer deploy`` for a Cloud Run service: build if needed, then create or update the service.

Only the fields deployer.toml owns are compared and written; everything else stays as Google (or the user) has
it. An unchanged service sends no mutating request. A revision that fails leaves traffic where it was, and the
error says what Google reported and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from deployer.config import ServiceConfig
from deployer.config.run_gpu import billing_note
from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies import traffic as split
from deployer.gcp.bodies.run import (
    PREVIEW_PIN_LABEL,
    ServiceSpec,
    owned_differences,
    owned_mask,
    preview_body,
    service_body,
    updated_body,
    updated_mask,
    with_public_access,
)
from deployer.gcp.bodies.run_diff import field_changes
from deployer.gcp.run import RevisionFailure, RunService
from deployer.plan import Action, Result, Step, attributes
from deployer.reporter import Reporter
from deployer.services.build import BuildResult, Placement, digest_of, planned_image
from deployer.services.deployed import tag_deployed
from deployer.services.run_gpu import run_gpu_spec

REVISION_TIMEOUT_S = 900.0

# Cloud Run's traffic tags: a DNS label of lowercase letters, digits and hyphens starting with a letter, at least 3
# characters ("revision tags must contain at least three characters",
# https://github.com/PolicyEngine/policyengine-sim-api/issues/656), and with the service name at most 46 characters,
# since both make the tag URL's first label (gcloud: "Combined traffic tag and service name cannot exceed 46
# characters.", https://github.com/PolicyEngine/policyengine-api/issues/3729).
_TAG_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
MIN_TAG = 3
MAX_TAG_WITH_SERVICE = 46


@dataclass(frozen=True)
class TrafficAsk:
    """What a regular deploy asks of traffic: a canary's percent, or all of it to the new revision."""

    canary: int | None = None
    to_latest: bool = False

    def targets(self, current: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The traffic this deploy sets; None to leave it as it is (it follows the latest, or a kept split)."""
        if self.canary is not None:
            return split.targets_of(split.canary(current, self.canary))
        if self.to_latest and split.follows_latest(current) != 100:
            return split.targets_of(split.to_latest(current))
        return None


_AS_IS = TrafficAsk()


@dataclass(frozen=True)
class _ServiceReads:
    """The plan's reads of the service, started together with the build's."""

    service: Future[tuple[RunService | None, dict[str, Any]]]  # the policy is {} for a preview: access is left alone


@dataclass
class DeployResult(Result):
    service: str
    project: str
    region: str
    url: str = ""
    image: str = ""
    digest: str | None = None
    revision: str = ""
    build: BuildResult | None = None
    preview: str = ""  # the traffic tag of a preview deploy; its URL is ``url``
    changes: list[str] = field(default_factory=list)  # the owned fields that change, "key: old → new"
    share: int | None = None  # the percent of traffic the deployed revision serves once applied
    kept_split: str = ""  # a split pinned to revisions that this deploy keeps (the new revision's share is in it)

    def fields(self) -> dict[str, Any]:
        return {
            **attributes(self, "service", "project", "region", "url", "image", "digest", "revision"),
            "preview": bool(self.preview),
            "tag": self.preview or None,
            "build": self.build.to_json() if self.build else None,
            "changes": self.changes,
            "traffic_percent": self.share,
            "kept_split": self.kept_split or None,
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
        **run_gpu_spec(config),
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
        where: Placement,
        *,
        preview: str | None = None,
        traffic: TrafficAsk = _AS_IS,
    ) -> Iterator[DeployResult]:
        """Compute the plan (reads only). The packed context lives until the block ends, for the plan's apply.

        With ``preview`` (a traffic tag), the new revision gets that tag and no traffic; see ``_plan_preview``.
        """
        if preview is not None:
            check_preview_tag(preview, name)
        project, region, image = where.project, where.region, where.image
        result = DeployResult(service=name, project=project, region=region, preview=preview or "")
        full_name = f"projects/{project}/locations/{region}/services/{name}"
        # The service (then its policy, when it exists) does not depend on the build's reads: they go out together.
        with ThreadPoolExecutor(1, thread_name_prefix="deployer-run-reads") as pool:
            reads = _ServiceReads(pool.submit(self._read_service, full_name, with_policy=preview is None))
            with planned_image(self._cloud, self._reporter, result.plan, where) as result.build:
                if preview is not None:
                    self._plan_preview(result, config, image, preview, reads)
                else:
                    self._plan_service(result, config, image, reads, traffic)
                yield result

    def deploy(self, name: str, config: ServiceConfig, where: Placement, *, dry_run: bool = False) -> DeployResult:
        """Plan and apply unless ``dry_run``."""
        with self.planned(name, config, where) as result:
            result.dry_run = dry_run
            if not dry_run:
                result.apply()
        return result

    def _desired_image(self, result: DeployResult, image: str | None) -> str:
        if image is not None:
            return image
        assert result.build is not None
        return result.build.reference

    def _read_service(self, name: str, *, with_policy: bool) -> tuple[RunService | None, dict[str, Any]]:
        """The service, and its IAM policy when it exists and access is planned ({} otherwise)."""
        service = self._cloud.run.get_service(name)
        policy = self._cloud.run.get_iam_policy(name) if service is not None and with_policy else {}
        return service, policy

    def _plan_service(
        self, result: DeployResult, config: ServiceConfig, image: str | None, reads: _ServiceReads, ask: TrafficAsk
    ) -> None:
        parent = f"projects/{result.project}/locations/{result.region}"
        name = f"{parent}/services/{result.service}"
        current, _ = reads.service.result()
        run = self._cloud.run
        desired = service_body(service_spec(config, self._desired_image(result, image)))
        result.image = result.build.image if result.build else (image or "").split("@", 1)[0]
        result.digest = result.build.digest if result.build else digest_of(image)

        def finish(service: RunService) -> None:
            result.url = service.uri
            result.revision = service.latest_ready_revision

        if current is not None:
            finish(current)
        if current is None and ask.canary is not None:
            raise BadInput(
                f"--canary {ask.canary}: service {result.service} does not exist yet: there is nothing to split with",
                "deploy it once without --canary",
            )
        if current is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    name,
                    f"create Cloud Run service {result.service} ({billing_note(config.gpu)})",
                    {
                        "method": "POST",
                        "url": f"/v2/{parent}/services?serviceId={result.service}",
                        "body": desired,
                    },
                    apply=lambda: self._apply_service(result, config, image, parent, None),
                    validate=lambda: run.create_service(
                        parent, result.service, desired, timeout_s=REVISION_TIMEOUT_S, validate_only=True
                    ),
                )
            )
        else:
            changed = owned_differences(desired, current.doc)
            result.changes = field_changes(desired, current.doc)
            if PREVIEW_PIN_LABEL in (current.doc.get("labels") or {}):
                changed.append("traffic (back to the latest revision, pinned by a preview)")
            body, mask = _with_traffic(current.doc, desired, ask)
            if "traffic" in body and body["traffic"] != current.doc.get("traffic"):
                before = split.split_text(split.shares(current.doc))
                after = split.split_text(split.shares({**current.doc, "trafficStatuses": body["traffic"]}))
                result.changes.append(f"traffic: {before} → {after}")
                changed.append("traffic")
            follows = split.follows_latest(body)
            if follows < 100:
                result.kept_split = split.split_text(split.shares(body, routed=False))
                self._reporter.warn(
                    f"{result.service}'s traffic is split by revision and this deploy keeps that split: the new "
                    f"revision gets {follows} % ({result.kept_split}); pass --to-latest to send it all traffic"
                )
            build_pending = result.build is not None and result.build.digest is None
            if not changed and not build_pending:
                result.plan.add(Step(Action.NOOP, name, "service is up to date"))
            else:
                what = "; ".join(result.changes) or ", ".join(_short_path(p) for p in changed)
                what = what or "the image, once built"
                result.plan.add(
                    Step(
                        Action.UPDATE,
                        name,
                        f"update service {result.service}: {what} ({billing_note(config.gpu)})",
                        {"method": "PATCH", "url": f"/v2/{name}?updateMask={','.join(mask)}", "body": body},
                        apply=lambda: self._apply_service(result, config, image, parent, current, ask),
                        validate=lambda: run.update_service(
                            body, update_mask=mask, timeout_s=REVISION_TIMEOUT_S, validate_only=True
                        ),
                    )
                )
        self._plan_access(result, config, name, current, reads)

    def _apply_service(
        self,
        result: DeployResult,
        config: ServiceConfig,
        image: str | None,
        parent: str,
        current: RunService | None,
        ask: TrafficAsk | None = None,
    ) -> None:
        """Create or update, with the image as built; waits until the new revision is ready."""
        desired = service_body(service_spec(config, self._desired_image(result, image)))
        result.digest = result.build.digest if result.build else digest_of(image)
        run = self._cloud.run
        try:
            with self._reporter.activity(f"Deploying {result.service} to Cloud Run ({result.region})"):
                if current is None:
                    service = run.create_service(parent, result.service, desired, timeout_s=REVISION_TIMEOUT_S)
                else:
                    pinned = PREVIEW_PIN_LABEL in (current.doc.get("labels") or {})
                    body, mask = _with_traffic(current.doc, desired, ask or TrafficAsk())
                    moves = body.get("traffic") != current.doc.get("traffic")
                    if not owned_differences(desired, current.doc) and not pinned and not moves:
                        # The build produced the image the service already runs: nothing to change.
                        self._reporter.info("The new build produced the running image: service unchanged")
                        return
                    service = run.update_service(body, update_mask=mask, timeout_s=REVISION_TIMEOUT_S)
        except RevisionFailure as failure:
            raise _explain_revision_failure(result, config, failure) from None
        result.url = service.uri
        result.revision = service.latest_ready_revision
        tag_deployed(self._cloud, self._reporter, self._desired_image(result, image), "run", result.service)
        routed = split.shares(service.doc)
        result.share = sum(s.percent for s in routed if s.revision == result.revision)
        if result.share == 100:
            self._reporter.info(f"Revision {result.revision} is serving 100% of traffic")
        else:
            self._reporter.warn(
                f"Revision {result.revision} is serving {result.share}% of traffic; the split is "
                f"{split.split_text(routed)}"
            )

    def _plan_preview(
        self, result: DeployResult, config: ServiceConfig, image: str | None, tag: str, reads: _ServiceReads
    ) -> None:
        """A revision with traffic tag ``tag`` and no traffic: what served before keeps serving.

        The service must exist (a preview shares its URL scheme, IAM and settings). Access is left as it is.
        """
        parent = f"projects/{result.project}/locations/{result.region}"
        name = f"{parent}/services/{result.service}"
        current, _ = reads.service.result()
        if current is None:
            raise DeployerError(
                f"cannot deploy a preview of {result.service}: the service does not exist in "
                f"{result.project}/{result.region} yet",
                "deploy it once without --preview (the workflow does on the default branch), then previews work",
            )
        desired = service_body(service_spec(config, self._desired_image(result, image)))
        result.image = result.build.image if result.build else (image or "").split("@", 1)[0]
        result.digest = result.build.digest if result.build else digest_of(image)
        body = preview_body(current.doc, desired, result.service, tag)
        revision = body["template"]["revision"]
        build_pending = result.build is not None and result.build.digest is None
        if not build_pending and _serves_tag(current.doc, revision, tag):
            result.url, result.revision = _tag_url(current.doc, tag), revision
            result.plan.add(Step(Action.NOOP, f"{name}#{tag}", f"preview {tag} already runs revision {revision}"))
            return
        mask = owned_mask(desired, traffic=True)
        run = self._cloud.run
        result.plan.add(
            Step(
                Action.UPDATE,
                f"{name}#{tag}",
                f"deploy revision {revision} of {result.service} with tag {tag} and no traffic",
                {"method": "PATCH", "url": f"/v2/{name}?updateMask={','.join(mask)}", "body": body},
                apply=lambda: self._apply_preview(result, config, image, current, tag),
                validate=lambda: run.update_service(
                    body, update_mask=mask, timeout_s=REVISION_TIMEOUT_S, validate_only=True
                ),
            )
        )

    def _apply_preview(
        self, result: DeployResult, config: ServiceConfig, image: str | None, current: RunService, tag: str
    ) -> None:
        desired = service_body(service_spec(config, self._desired_image(result, image)))
        result.digest = result.build.digest if result.build else digest_of(image)
        body = preview_body(current.doc, desired, result.service, tag)
        result.revision = body["template"]["revision"]
        run = self._cloud.run
        try:
            with self._reporter.activity(f"Deploying preview {tag} of {result.service} ({result.region})"):
                service = run.update_service(
                    body, update_mask=owned_mask(desired, traffic=True), timeout_s=REVISION_TIMEOUT_S
                )
        except RevisionFailure as failure:
            raise _explain_revision_failure(result, config, failure) from None
        result.url = _tag_url(service.doc, tag)
        if not result.url:
            # The operation's Service may predate the routing; the service itself has the tag's URL once routed.
            fresh = run.get_service(service.name)
            result.url = _tag_url(fresh.doc, tag) if fresh else ""
        if not result.url:
            raise DeployerError(
                f"revision {result.revision} is ready but Cloud Run reports no URL for tag {tag}",
                f"see the service's traffic in the Cloud Console (Cloud Run → {result.service} → Revisions)",
            )
        self._reporter.info(f"Revision {result.revision} (tag {tag}) receives no traffic: {result.url}")

    def _plan_access(
        self, result: DeployResult, config: ServiceConfig, name: str, current: RunService | None, reads: _ServiceReads
    ) -> None:
        run = self._cloud.run
        _, policy = reads.service.result()
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


def check_preview_tag(tag: str, service: str) -> None:
    """Cloud Run's rules for a traffic tag (see ``_TAG_RE``); BadInput naming the tag and what is allowed."""
    limit = MAX_TAG_WITH_SERVICE - len(service)
    if not _TAG_RE.fullmatch(tag) or not MIN_TAG <= len(tag) <= limit:
        raise BadInput(
            f'--preview "{tag}": a Cloud Run traffic tag is lowercase letters, digits and hyphens, starting with a '
            f"letter and not ending with a hyphen, from {MIN_TAG} to {limit} characters (tag and service name "
            f"{service!r} together at most {MAX_TAG_WITH_SERVICE})",
            "use the pull request's number, e.g. --preview pr-123",
        )


def check_traffic_flags(canary: int | None, to_latest: bool, preview: str | None) -> None:
    """--canary is a percent from 1 to 99; it, --to-latest and --preview each ask for a different split."""
    if canary is not None and not 1 <= canary <= 99:
        raise BadInput(f"--canary {canary}: the new revision's percent of traffic, from 1 to 99")
    if sum([canary is not None, to_latest, preview is not None]) > 1:
        raise BadInput("--canary, --to-latest and --preview ask for different splits", "pass one of them")


def _with_traffic(
    current: dict[str, Any], desired: dict[str, Any], ask: TrafficAsk
) -> tuple[dict[str, Any], list[str]]:
    """The update's body and mask: the owned fields, and the traffic ``ask`` sets (a canary, --to-latest)."""
    body = updated_body(current, desired)
    mask = updated_mask(current, desired)
    targets = ask.targets(body)
    if targets is not None:
        body["traffic"] = targets
        if "traffic" not in mask:
            mask.append("traffic")
    return body, mask


def _tag_url(service: dict[str, Any], tag: str) -> str:
    return next((str(s.get("uri", "")) for s in service.get("trafficStatuses") or [] if s.get("tag") == tag), "")


def _serves_tag(service: dict[str, Any], revision: str, tag: str) -> bool:
    tagged = any(t.get("tag") == tag and t.get("revision") == revision for t in service.get("traffic") or [])
    return tagged and bool(_tag_url(service, tag))


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
