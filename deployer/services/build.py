"""``deployer build``: the build context to Cloud Build, the image to Artifact Registry, ``image@digest`` out.

The plan: choose and check the files, pack a reproducible archive, and name the image tag by the content hash.
When the repository already has that tag, the build is skipped. Otherwise: the source bucket, the upload (named by
the archive's hash, so an identical archive is never uploaded twice), the repository, and the build, whose log is
streamed by ranged reads while the Builds API gives the verdict.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deployer.config import ResolvedConfig, ServiceConfig
from deployer.config.job import JobConfig
from deployer.config.vm import VmConfig
from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.artifactregistry import image_name, repository_body
from deployer.gcp.bodies.build import BuildSpec, build_body
from deployer.gcp.cloudbuild import BuildState
from deployer.gcp.storage import StorageAdapter
from deployer.plan import Action, Plan, Result, Step, attributes
from deployer.reporter import Reporter
from deployer.services.archive import ArchiveInfo, ArchiveStream, content_tag
from deployer.services.bootstrap.accounts import bootstrap_accounts
from deployer.services.context import ContextSummary, check_context, human_size, scan_context, select_context
from deployer.services.source_bucket import SourceBucket, plan_source_bucket

LOG_POLL_INTERVAL_S = 1.0  # gcloud tails the log object once a second


@dataclass(frozen=True)
class BuildInputs:
    """Everything a build needs, resolved from config and flags."""

    name: str  # the service (and image) name
    project: str
    region: str
    repository: str
    context_dir: Path
    dockerfile: Path
    timeout_s: int = 1200
    machine_type: str = ""
    max_context_bytes: int = 500 * 1000 * 1000
    allow_large_context: bool = False
    allowed_credential_files: tuple[str, ...] = ()
    service_account: str = ""  # the build's identity (bootstrap's build account); empty: Cloud Build's default
    source_retention_days: int = 30  # the source bucket's lifecycle rule, for a bucket this build creates


def inputs_from_config(
    config: ResolvedConfig,
    name: str,
    service: ServiceConfig | VmConfig | JobConfig,
    max_context_mb: int | None = None,
    allow_large_context: bool = False,
    allowed_credential_files: tuple[str, ...] = (),
) -> BuildInputs:
    """Build inputs from the resolved config, with the command's overrides.

    A VM's image is built as a service's is: only the Dockerfile and the context come from its table.
    """
    if max_context_mb is not None and max_context_mb < 1:
        raise BadInput(
            f"--max-context-mb {max_context_mb}: the limit is a whole number of MB, at least 1",
            "pass --max-context-mb 1 or more, or --allow-large-context to upload whatever the size",
        )
    return BuildInputs(
        name=name,
        project=config.require_project(),
        region=config.require_region(),
        repository=config.repository.value,
        context_dir=config.project_dir / service.context,
        dockerfile=config.project_dir / service.dockerfile,
        timeout_s=config.build.timeout,
        machine_type=config.build.machine_type,
        # `is None`, not `or`: a 0 from a caller must reach the check, not silently become the default.
        max_context_bytes=(config.build.max_context_mb if max_context_mb is None else max_context_mb) * 1000 * 1000,
        allow_large_context=allow_large_context,
        allowed_credential_files=(*config.build.allow_credential_files, *allowed_credential_files),
        source_retention_days=config.build.source_retention_days,
    )


@dataclass
class BuildResult:
    """What the build produced. ``digest`` is None only in a dry run that would build."""

    name: str
    image: str  # LOCATION-docker.pkg.dev/PROJECT/REPO/NAME
    tag: str  # the content tag
    digest: str | None
    reused: bool  # True when an image for this content already existed and no build ran
    build_id: str | None = None
    log_url: str | None = None
    status_detail: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    repository_exists: bool | None = None  # as the plan found it; None when it did not look (the image existed)

    @property
    def reference(self) -> str:
        """``image@sha256:…`` when the digest is known, else ``image:tag``."""
        return f"{self.image}@{self.digest}" if self.digest else f"{self.image}:{self.tag}"

    def to_json(self) -> dict[str, Any]:
        return attributes(
            self, "image", "tag", "digest", "reference", "reused", "build_id", "log_url", "status_detail", "context"
        )


@dataclass
class PreparedSource:
    """The chosen and checked files and their content tag; the archive is produced only when it is uploaded."""

    context_dir: Path
    summary: ContextSummary
    dockerfile: str  # relative to the context, posix
    content_tag: str
    git_tag: str | None
    archive: ArchiveInfo | None = None  # what was uploaded, once it was

    def open_archive(self) -> ArchiveStream:
        return ArchiveStream(self.context_dir, self.summary.files)

    def cleanup(self) -> None:
        """Nothing is left on disk (the archive is streamed); kept so callers need not know."""


@dataclass(frozen=True)
class Placement:
    """Where a deploy goes and what it runs: the build's inputs (None when a given image is deployed), that image,
    and the context the checks before the deploy already packed."""

    project: str
    region: str
    build_inputs: BuildInputs | None
    image: str | None = None
    source: PreparedSource | None = None


def prepare_source(inputs: BuildInputs, reporter: Reporter) -> PreparedSource:
    """Choose the files, refuse what must not be uploaded, and name the content. Local only: nothing is sent, and
    nothing is compressed: the tag comes from the files' hashes, cached between runs (services/filescan.py)."""
    context_dir = inputs.context_dir.resolve()
    dockerfile = inputs.dockerfile.resolve()
    if not context_dir.is_dir():
        raise BadInput(f"build context {inputs.context_dir} is not a directory", "set context = in deployer.toml")
    if not dockerfile.is_file():
        raise BadInput(
            f"no Dockerfile at {inputs.dockerfile}",
            "create one (`deployer init` writes a template) or set dockerfile = in deployer.toml",
        )
    try:
        dockerfile_rel = dockerfile.relative_to(context_dir).as_posix()
    except ValueError:
        raise BadInput(
            f"the Dockerfile {inputs.dockerfile} is outside the build context {inputs.context_dir}",
            "move it into the context, or widen context = in deployer.toml",
        ) from None

    summary = select_context(context_dir, dockerfile)
    largest = ", ".join(f"{name} {human_size(size)}" for name, size in summary.largest_dirs[:3])
    ignore = summary.ignore_file or "no ignore file"
    reporter.info(
        f"Context {context_dir}: {len(summary.files)} files, {human_size(summary.total_bytes)} "
        f"(ignore rules: {ignore}; largest: {largest or '-'})"
    )
    facts = scan_context(context_dir, summary.files)
    check_context(
        summary,
        context_dir=context_dir,
        max_bytes=inputs.max_context_bytes,
        allow_large=inputs.allow_large_context,
        allowed_credentials=inputs.allowed_credential_files,
        facts=facts,
    )
    hashes = {path: fact.sha256 for path, fact in facts.items()}
    return PreparedSource(
        context_dir=context_dir,
        summary=summary,
        dockerfile=dockerfile_rel,
        content_tag=content_tag(summary.files, hashes, dockerfile_rel),
        git_tag=_clean_git_commit_tag(context_dir),
    )


@contextmanager
def prepared_source(inputs: BuildInputs | None, reporter: Reporter) -> Iterator[PreparedSource | None]:
    """``prepare_source`` for the length of a block (None when there is nothing to build), cleaned up after."""
    if inputs is None:
        yield None
        return
    source = prepare_source(inputs, reporter)
    try:
        yield source
    finally:
        source.cleanup()


def _clean_git_commit_tag(directory: Path) -> str | None:
    """``git-<sha>`` when the directory is in a git work tree with nothing uncommitted, else None."""
    try:
        head = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if dirty.returncode != 0 or dirty.stdout.strip():
        return None
    return f"git-{head.stdout.strip()[:12]}"


class BuildPlanner:
    """Computes the build plan (reads only), then applies it."""

    def __init__(self, cloud: GoogleCloud, reporter: Reporter) -> None:
        self._cloud = cloud
        self._reporter = reporter

    def plan(self, inputs: BuildInputs, source: PreparedSource, plan: Plan) -> BuildResult:
        """Add the build's steps to ``plan``; the result's digest is filled in when the steps are applied."""
        image = image_name(inputs.project, inputs.region, inputs.repository, inputs.name)
        result = BuildResult(
            name=inputs.name,
            image=image,
            tag=source.content_tag,
            digest=None,
            reused=False,
            context={
                "files": len(source.summary.files),
                "bytes": source.summary.total_bytes,
                "object": None,
                # Known once the archive is produced, while it is uploaded; None when nothing was uploaded.
                "archive_bytes": None,
                "archive_sha256": None,
                "ignore_file": source.summary.ignore_file,
            },
        )
        registry = self._cloud.artifact_registry
        # The tag first: when it exists (every unchanged deploy) that one read is the whole build plan. A missing
        # repository answers the tag's read with 404 too.
        digest = registry.tag_digest(inputs.project, inputs.region, inputs.repository, inputs.name, result.tag)
        if digest is not None:
            result.digest, result.reused = digest, True
            plan.add(Step(Action.NOOP, f"{image}:{result.tag}", "image for this source already built: no build"))
            return result
        repository = registry.get_repository(inputs.project, inputs.region, inputs.repository)
        result.repository_exists = repository is not None

        storage = self._cloud.storage(inputs.project)
        source_bucket = plan_source_bucket(
            self._cloud, inputs.project, inputs.region, inputs.source_retention_days, plan
        )
        bucket = source_bucket.name
        # Named by the content tag, so it is known before anything is compressed: the same files are uploaded once.
        object_name = f"source/{source.content_tag}.tgz"
        result.context["object"] = f"gs://{bucket}/{object_name}"
        uploaded = storage.stat(bucket, object_name) if source_bucket.exists else None
        generation: list[int] = [uploaded.generation] if uploaded else []
        if uploaded is not None:
            plan.add(Step(Action.NOOP, f"gs://{bucket}/{object_name}", "identical archive already uploaded"))
        else:

            def upload() -> None:
                source_bucket.check_ours()
                size = human_size(source.summary.total_bytes)
                with (
                    self._reporter.activity(f"Packing and uploading {size} of context"),
                    source.open_archive() as stream,
                ):
                    stored = storage.upload_stream(bucket, object_name, stream, "application/gzip")
                    source.archive = stream.info()
                result.context["archive_bytes"] = source.archive.size
                result.context["archive_sha256"] = source.archive.sha256
                generation.append(stored.generation)

            files = len(source.summary.files)
            plan.add(
                Step(
                    Action.UPLOAD,
                    f"gs://{bucket}/{object_name}",
                    f"pack and upload the context ({files} files, {human_size(source.summary.total_bytes)})",
                    {"method": "POST", "url": f"/upload/storage/v1/b/{bucket}/o", "body": {"name": object_name}},
                    apply=upload,
                )
            )
        if repository is not None:
            plan.add(Step(Action.NOOP, repository.name, "Artifact Registry repository exists"))
        else:
            body = repository_body()
            parent = f"projects/{inputs.project}/locations/{inputs.region}"
            plan.add(
                Step(
                    Action.CREATE,
                    f"{parent}/repositories/{inputs.repository}",
                    "create the Docker repository in Artifact Registry",
                    {
                        "method": "POST",
                        "url": f"/v1/{parent}/repositories?repositoryId={inputs.repository}",
                        "body": body,
                    },
                    apply=lambda: self._create_repository(inputs, body),
                )
            )
        tags = (source.content_tag, *([source.git_tag] if source.git_tag else []))

        def spec(generation_number: int) -> BuildSpec:
            return BuildSpec(
                bucket=bucket,
                object=object_name,
                generation=generation_number,
                dockerfile=source.dockerfile,
                image=image,
                tags=tags,
                timeout_s=inputs.timeout_s,
                machine_type=inputs.machine_type,
                service=inputs.name,
                service_account=inputs.service_account,
                project=inputs.project,
            )

        parent = f"projects/{inputs.project}/locations/{inputs.region}"
        plan.add(
            Step(
                Action.BUILD,
                f"{image}:{result.tag}",
                f"build {source.dockerfile} on Cloud Build and push {image}",
                {
                    "method": "POST",
                    "url": f"/v1/{parent}/builds",
                    "body": build_body(spec(generation[0] if generation else 0)),
                },
                apply=lambda: self._run_build(inputs, build_body(spec(generation[-1])), result, source_bucket),
            )
        )
        return result

    def _create_repository(self, inputs: BuildInputs, body: dict[str, Any]) -> None:
        with self._reporter.activity(f"Creating repository {inputs.repository}"):
            self._cloud.artifact_registry.create_repository(inputs.project, inputs.region, inputs.repository, body)

    def _run_build(
        self, inputs: BuildInputs, body: dict[str, Any], result: BuildResult, source_bucket: SourceBucket
    ) -> None:
        # An archive already in the bucket is built from it: whose bucket it is matters as much as for an upload.
        source_bucket.check_ours()
        adapter = self._cloud.cloud_build
        started = adapter.submit(inputs.project, inputs.region, body)
        result.build_id, result.log_url = started.id, started.log_url
        self._reporter.info(f"Build {started.id}: logs at {started.log_url}")
        try:
            final = self._follow(inputs, started)
        except KeyboardInterrupt:
            self._reporter.warn(
                f"stopped following build {started.id}; it goes on in Cloud Build. Cancel it with "
                f"`gcloud builds cancel {started.id} --region {inputs.region} --project {inputs.project}`"
            )
            raise
        result.status_detail = final.status_detail
        if final.status != "SUCCESS":
            why = final.failure or final.status_detail or "see the build log"
            raise DeployerError(
                f"build {final.id} ended {final.status}: {why}",
                f"read the build log: {final.log_url}",
            )
        digest = next((d for name, d in final.images if name == f"{result.image}:{result.tag}"), None)
        digest = digest or next((d for _, d in final.images), None)
        if digest is None:
            raise DeployerError(
                f"build {final.id} succeeded but reported no image digest for {result.image}:{result.tag}",
                f"check the build's images: {final.log_url}",
            )
        result.digest = digest
        if final.status_detail:
            self._reporter.warn(final.status_detail)

    def _follow(self, inputs: BuildInputs, build: BuildState) -> BuildState:
        """Stream the log object by ranged reads while polling the build; the Builds API gives the verdict."""
        log = _LogTail(self._cloud.storage(inputs.project), *_log_location(build), self._reporter)
        while True:
            state = self._cloud.cloud_build.get(inputs.project, inputs.region, build.id)
            log.read()
            if state.done:
                # One last read after the terminal state: the tail may land after the status changes.
                log.read(final=True)
                return state
            time.sleep(LOG_POLL_INTERVAL_S)


class _LogTail:
    """Ranged reads of a growing log object, as gcloud tails it: 404 not started, 416 nothing new.

    Logs are best effort: when the caller may not read them, one warning, and the build is followed by status.
    """

    def __init__(self, storage: StorageAdapter, bucket: str, name: str, reporter: Reporter) -> None:
        self._storage, self._bucket, self._name, self._reporter = storage, bucket, name, reporter
        self._offset = 0
        self._pending = ""
        self._readable = bool(bucket)

    def read(self, *, final: bool = False) -> None:
        if not self._readable:
            return
        try:
            chunk = self._storage.read_from(self._bucket, self._name, self._offset)
        except DeployerError as exc:
            self._reporter.warn(f"cannot read the build log ({exc.message}); following the build status only")
            self._readable = False
            return
        if chunk:
            self._offset += len(chunk)
            self._pending += chunk.decode("utf-8", errors="replace")
        *lines, self._pending = self._pending.split("\n")
        if final and self._pending:
            lines.append(self._pending)
            self._pending = ""
        for line in lines:
            self._reporter.log_line(line)


def _log_location(build: BuildState) -> tuple[str, str]:
    if not build.logs_bucket.startswith("gs://"):
        return "", ""
    bucket, _, prefix = build.logs_bucket[len("gs://") :].partition("/")
    return bucket, f"{prefix.rstrip('/') + '/' if prefix else ''}log-{build.id}.txt"


def digest_of(image: str | None) -> str | None:
    """The digest of ``IMAGE@sha256:…``; None for ``IMAGE:TAG`` or no image."""
    if image and "@" in image:
        return image.split("@", 1)[1]
    return None


@contextmanager
def planned_image(cloud: GoogleCloud, reporter: Reporter, plan: Plan, where: Placement) -> Iterator[BuildResult | None]:
    """The build steps of a deploy, added to ``plan``; None (and no steps) when an image is given.

    A source the caller prepared (to check the context before anything else) stays the caller's to clean up; one
    packed here lives until the block ends.
    """
    if where.image is not None:
        yield None
        return
    build_inputs, source = where.build_inputs, where.source
    if build_inputs is None:
        raise DeployerError("nothing to deploy: neither a build nor an image was given")
    owned = None
    if source is None:
        source = owned = prepare_source(build_inputs, reporter)
    try:
        yield BuildPlanner(cloud, reporter).plan(build_inputs, source, plan)
    finally:
        if owned is not None:
            owned.cleanup()


@dataclass
class BuildRun(Result):
    """``deployer build``'s result: the image of one service, built or found already built."""

    service: str
    build: BuildResult | None = None

    def fields(self) -> dict[str, Any]:
        return {"service": self.service, **(self.build.to_json() if self.build else {})}


@contextmanager
def planned_build(cloud: GoogleCloud, reporter: Reporter, inputs: BuildInputs) -> Iterator[BuildRun]:
    """The build's plan (reads only), run as bootstrap's build account when it exists.

    The packed context lives until the block ends, for the plan's upload step.
    """
    build_account, _ = bootstrap_accounts(cloud, inputs.project)
    if build_account:
        inputs = replace(inputs, service_account=build_account)
    run = BuildRun(service=inputs.name)
    source = prepare_source(inputs, reporter)
    try:
        run.build = BuildPlanner(cloud, reporter).plan(inputs, source, run.plan)
        yield run
    finally:
        source.cleanup()
