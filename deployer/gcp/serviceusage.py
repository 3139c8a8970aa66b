"""Service Usage v1: which APIs a project has enabled, enabling them, and waiting until they really answer.

BatchEnableServices takes at most 20 services and is all or nothing
(https://cloud.google.com/service-usage/docs/reference/rest/v1/services/batchEnable); it is a long-running
operation at ``/v1/operations/{id}``. A freshly enabled API can still answer 403 SERVICE_DISABLED for a while
(https://cloud.google.com/service-usage/docs/enable-disable: "it might take a few minutes for the change to
propagate"), so after enabling, each API is called cheaply until it stops saying so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp.clients import Adapter, polling
from deployer.gcp.errors import google_call

MAX_BATCH = 20
ANSWER_TIMEOUT_S = 300.0

# A cheap read per API, to learn whether it answers yet: (host, path). Any answer but SERVICE_DISABLED will do (a
# 404 or a 403 for a missing permission proves the API is on). APIs with no side-effect-free call (iamcredentials,
# sts) and those billed to another resource (billingbudgets) are not probed: their operation is the signal.
_PROBES: dict[str, tuple[str, str]] = {
    "run.googleapis.com": ("run.googleapis.com", "/v2/projects/{project}/locations/{region}/services?pageSize=1"),
    "cloudbuild.googleapis.com": (
        "cloudbuild.googleapis.com",
        "/v1/projects/{project}/locations/{region}/builds?pageSize=1",
    ),
    "artifactregistry.googleapis.com": (
        "artifactregistry.googleapis.com",
        "/v1/projects/{project}/locations/{region}/repositories?pageSize=1",
    ),
    "storage.googleapis.com": ("storage.googleapis.com", "/storage/v1/b?project={project}&maxResults=1"),
    "iam.googleapis.com": ("iam.googleapis.com", "/v1/projects/{project}/serviceAccounts?pageSize=1"),
    "cloudresourcemanager.googleapis.com": ("cloudresourcemanager.googleapis.com", "/v3/projects/{project}"),
    "serviceusage.googleapis.com": (
        "serviceusage.googleapis.com",
        "/v1/projects/{project}/services/serviceusage.googleapis.com",
    ),
    "cloudbilling.googleapis.com": ("cloudbilling.googleapis.com", "/v1/projects/{project}/billingInfo"),
    "logging.googleapis.com": ("logging.googleapis.com", "/v2/projects/{project}/logs?pageSize=1"),
    "compute.googleapis.com": ("compute.googleapis.com", "/compute/v1/projects/{project}/regions/{region}"),
}


def probe_path(service: str, project: str, region: str) -> tuple[str, str] | None:
    """(host, path) of the cheap call that tells whether ``service`` answers on ``project``; None if there is none."""
    found = _PROBES.get(service)
    if found is None:
        return None
    host, template = found
    return host, template.format(project=project, region=region)


def _disabled_reason(response: Any) -> bool:
    """Whether an HTTP answer is Google's "API not enabled" (reason SERVICE_DISABLED, or the older wording)."""
    if response.status_code != 403:
        return False
    try:
        error = response.json().get("error", {})
    except ValueError:
        return False
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("reason") in ("SERVICE_DISABLED", "ACCESS_NOT_CONFIGURED"):
            return True
    return "has not been used in project" in str(error.get("message", ""))


class ServiceUsageAdapter(Adapter):
    def enabled(self, project: str) -> set[str]:
        """Names of the services enabled on the project, e.g. ``run.googleapis.com``."""
        with google_call(f"listing the APIs enabled on project {project}", project=project):
            pager = self._clients.service_usage.list_services(
                request={"parent": f"projects/{project}", "filter": "state:ENABLED", "page_size": 200}
            )
            return {str(service.name).rsplit("/", 1)[-1] for service in pager}

    def enable(self, project: str, services: list[str], *, timeout_s: float = 600.0) -> None:
        """Enable up to 20 services in one operation, and wait for it."""
        if not 0 < len(services) <= MAX_BATCH:
            raise ValueError(f"batchEnable takes 1 to {MAX_BATCH} services, got {len(services)}")
        with google_call(f"enabling {', '.join(services)} on project {project}", project=project):
            operation = self._clients.service_usage.batch_enable_services(
                request={"parent": f"projects/{project}", "service_ids": services}
            )
            operation.result(timeout=timeout_s, polling=polling(timeout_s, initial_s=0.2))

    def answers(self, project: str, service: str, region: str) -> bool:
        """One cheap call of ``service``: False while it answers SERVICE_DISABLED; True for any other answer."""
        found = probe_path(service, project, region)
        if found is None:
            return True
        host, path = found
        with google_call(f"checking that {service} answers on project {project}", project=project):
            response = self._clients.session.get(self._clients.api_root(host) + path, timeout=60)
        return not _disabled_reason(response)

    def wait_until_answering(
        self,
        project: str,
        services: list[str],
        region: str,
        *,
        timeout_s: float = ANSWER_TIMEOUT_S,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """Call each service cheaply, backing off, until none answers SERVICE_DISABLED; give up after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        for service in services:
            delay = 0.25
            announced = False
            while not self.answers(project, service, region):
                if time.monotonic() + delay > deadline:
                    raise DeployerError(
                        f"{service} was enabled on {project} but still answers SERVICE_DISABLED after {timeout_s:.0f}s",
                        "Google can take several minutes to propagate a newly enabled API: run the same command "
                        "again in a few minutes (it continues where it stopped)",
                    )
                if not announced and on_wait is not None:
                    on_wait(service)
                    announced = True
                time.sleep(delay)
                delay = min(delay * 1.6, 10.0)
