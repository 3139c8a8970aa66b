"""``deployer destroy`` for Cloud Run: delete a service (or, through the same planner, a job) deployer made.

What deployer did not make (no managed-by=deployer label) is refused, never deleted. Deleting a Cloud Run resource
deletes its revisions (or executions) and its own IAM policy, which holds the bindings deployer set on it (public
access: run.invoker for allUsers) — Google keeps no policy of a resource that is gone. The images it ran stay in
Artifact Registry (the repository's cleanup policy ages them out) unless ``images`` asks to delete the versions it
runs; the result says which.

A kind is a ``CloudRunKind``: how to read one and how to delete one. A Cloud Run job plugs in as another kind whose
``get`` and ``delete`` are the jobs adapter's (``job_kind``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.artifactregistry import version_name
from deployer.gcp.bodies.labels import MANAGED_BY_TEXT, is_managed
from deployer.plan import Action, Result, Step
from deployer.reporter import Reporter


@dataclass(frozen=True)
class CloudRunKind:
    """One kind of Cloud Run resource as destroy sees it: its REST JSON read (None when absent) and its delete."""

    label: str  # "service", "job"
    collection: str  # "services", "jobs"
    get: Callable[[str], dict[str, Any] | None]
    delete: Callable[[str, str], None]  # (name, etag)
    gcloud: str  # the delete command a person runs for one deployer did not make


def service_kind(cloud: GoogleCloud) -> CloudRunKind:
    run = cloud.run

    def get(name: str) -> dict[str, Any] | None:
        found = run.get_service(name)
        return found.doc if found is not None else None

    return CloudRunKind("service", "services", get, lambda name, etag: run.delete_service(name, etag=etag), "services")


def job_kind(cloud: GoogleCloud) -> CloudRunKind:
    jobs = cloud.run_jobs
    return CloudRunKind("job", "jobs", jobs.get_job, lambda name, etag: jobs.delete_job(name, etag=etag), "jobs")


@dataclass
class RunDestroyResult(Result):
    kind: str
    name: str
    project: str
    region: str
    images_left: list[str] = field(default_factory=list)
    images_deleted: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        place = {"target": self.kind, "name": self.name, "project": self.project, "region": self.region}
        return {**place, "images_left": self.images_left, "images_deleted": self.images_deleted}


def images_of(doc: dict[str, Any]) -> list[str]:
    template = doc.get("template") or {}
    template = template.get("template") or template  # a job's ExecutionTemplate holds a TaskTemplate
    return [str(c.get("image", "")) for c in template.get("containers") or [] if c.get("image")]


class RunDestroyer:
    def __init__(self, cloud: GoogleCloud, reporter: Reporter, kind: CloudRunKind) -> None:
        self._cloud = cloud
        self._reporter = reporter
        self._kind = kind

    def plan(self, name: str, *, project: str, region: str, images: bool = False) -> RunDestroyResult:
        """The deletion; with ``images``, also the Artifact Registry versions of the image it runs (and their tags)."""
        kind = self._kind
        path = f"projects/{project}/locations/{region}/{kind.collection}/{name}"
        result = RunDestroyResult(kind=kind.label, name=name, project=project, region=region)
        doc = kind.get(path)
        if doc is None:
            result.plan.add(Step(Action.NOOP, path, f"no Cloud Run {kind.label} {name} in {project}/{region}"))
            return result
        if not is_managed(doc.get("labels")):
            raise DeployerError(
                f"Cloud Run {kind.label} {name} was not created by deployer (no {MANAGED_BY_TEXT} label); deployer "
                "does not delete it",
                f"delete it yourself if it should go: gcloud run {kind.gcloud} delete {name} --region {region} "
                f"--project {project}",
            )
        result.images_left = images_of(doc)
        etag = str(doc.get("etag", ""))
        result.plan.add(
            Step(
                Action.DELETE,
                path,
                f"delete Cloud Run {kind.label} {name} with its revisions and its IAM policy (public access)",
                {"method": "DELETE", "url": f"/v2/{path}" + (f"?etag={etag}" if etag else ""), "body": None},
                apply=lambda: self._delete(path, etag),
            )
        )
        if images:
            self._plan_images(result)
        return result

    def _plan_images(self, result: RunDestroyResult) -> None:
        registry = self._cloud.artifact_registry
        for image in list(result.images_left):
            version = version_name(image)
            if version is None:
                continue  # not in Artifact Registry by digest: nothing deployer can name to delete
            result.images_left.remove(image)
            result.images_deleted.append(image)
            result.plan.add(
                Step(
                    Action.DELETE,
                    version,
                    f"delete image {image} and its tags from Artifact Registry",
                    {"method": "DELETE", "url": f"/v1/{version}?force=true", "body": None},
                    apply=functools.partial(registry.delete_version, version),
                )
            )

    def _delete(self, path: str, etag: str) -> None:
        with self._reporter.activity(f"Deleting Cloud Run {self._kind.label} {path.rsplit('/', 1)[-1]}"):
            self._kind.delete(path, etag)
