"""Cloud Build: submit a build, poll it, cancel it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deployer.gcp.clients import Adapter
from deployer.gcp.errors import google_call

TERMINAL = frozenset({"SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"})


@dataclass(frozen=True)
class BuildState:
    id: str
    status: str  # PENDING, QUEUED, WORKING, SUCCESS, FAILURE, INTERNAL_ERROR, TIMEOUT, CANCELLED, EXPIRED
    status_detail: str
    log_url: str
    logs_bucket: str  # "gs://..." or ""
    images: tuple[tuple[str, str], ...]  # (name, digest) from results.images
    failure: str  # failure_info.detail, when Google gives one

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


def _state(build: Any) -> BuildState:
    from google.cloud.devtools import cloudbuild_v1

    status = cloudbuild_v1.Build.Status(build.status).name
    failure = build.failure_info.detail if build.failure_info else ""
    return BuildState(
        id=build.id,
        status=status,
        status_detail=build.status_detail,
        log_url=build.log_url,
        logs_bucket=build.logs_bucket,
        images=tuple((image.name, image.digest) for image in build.results.images),
        failure=failure,
    )


# The permissions the calls below need: submit a build and follow it (cloudbuild.builds.create / get,
# https://cloud.google.com/build/docs/iam-roles-permissions).
BUILD_PERMISSIONS = ("cloudbuild.builds.create", "cloudbuild.builds.get")


class CloudBuildAdapter(Adapter):
    def submit(self, project: str, region: str, body: dict[str, Any]) -> BuildState:
        from google.cloud.devtools import cloudbuild_v1

        build = cloudbuild_v1.Build.from_json(json.dumps(body), ignore_unknown_fields=False)
        with google_call("submitting the build to Cloud Build", project=project):
            # Only the parent: with project_id set, the REST transport picks the legacy global URL and the build
            # would run in the global pool instead of the region.
            operation = self._clients.cloud_build.create_build(
                build=build, parent=f"projects/{project}/locations/{region}"
            )
        # The build is watched through the Builds API (get), not the operation: its status is the verdict.
        return _state(operation.metadata.build)

    def get(self, project: str, region: str, build_id: str) -> BuildState:
        with google_call("checking the build", project=project):
            build = self._clients.cloud_build.get_build(
                request={"name": f"projects/{project}/locations/{region}/builds/{build_id}"}
            )
        return _state(build)

    def cancel(self, project: str, region: str, build_id: str) -> None:
        with google_call("cancelling the build", project=project):
            self._clients.cloud_build.cancel_build(
                request={"name": f"projects/{project}/locations/{region}/builds/{build_id}"}
            )
