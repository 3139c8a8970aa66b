"""Cloud Run Admin API v2: jobs, their executions and tasks (as REST JSON documents).

``run_job`` returns the new execution from the operation's metadata at once and does not wait on the operation:
``operation.result()`` gives up after 15 minutes by default (google-api-core's DEFAULT_POLLING timeout=900), and a
training job runs for hours. Callers poll ``get_execution`` until ``completion_time`` is set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call
from deployer.gcp.run import _to_doc

# The IAM permissions each call needs (https://cloud.google.com/run/docs/reference/iam/permissions; overrides need
# run.jobs.runWithOverrides besides run.jobs.run: https://cloud.google.com/run/docs/reference/rest/v1/namespaces.jobs/run).
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "deploy": ("run.jobs.get", "run.jobs.create", "run.jobs.update", "iam.serviceAccounts.actAs"),
    "run": ("run.jobs.run", "run.jobs.runWithOverrides", "run.executions.get", "run.tasks.list"),
    "status": ("run.jobs.get", "run.executions.list"),
    "cancel": ("run.executions.cancel",),
    "delete": ("run.jobs.delete",),
    "logs": ("logging.logEntries.list",),
}


def _project(name: str) -> str:
    return name.split("/")[1]


class CloudRunJobsAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def get_job(self, name: str) -> dict[str, Any] | None:
        from google.api_core import exceptions as gexc

        with google_call(f"looking up Cloud Run job {name.rsplit('/', 1)[-1]}", project=_project(name)):
            try:
                return _to_doc(self._clients.run_jobs.get_job(name=name))
            except gexc.NotFound:
                return None

    def create_job(
        self, parent: str, job_id: str, body: dict[str, Any], *, validate_only: bool = False
    ) -> dict[str, Any]:
        from google.cloud import run_v2

        job = run_v2.Job.from_json(json.dumps(body), ignore_unknown_fields=False)
        doing = "checking (validate_only) the creation of" if validate_only else "creating"
        with google_call(f"{doing} Cloud Run job {job_id}", project=_project(parent)):
            request = run_v2.CreateJobRequest(parent=parent, job=job, job_id=job_id, validate_only=validate_only)
            operation = self._clients.run_jobs.create_job(request=request)
            return _to_doc(operation.result(timeout=120))

    def update_job(self, body: dict[str, Any], *, validate_only: bool = False) -> dict[str, Any]:
        """Replace the job (UpdateJob has no update_mask): ``body`` is the job as read with deployer's fields set."""
        from google.cloud import run_v2

        job = run_v2.Job.from_json(json.dumps(body), ignore_unknown_fields=True)
        doing = "checking (validate_only) the update of" if validate_only else "updating"
        with google_call(f"{doing} Cloud Run job {body['name'].rsplit('/', 1)[-1]}", project=_project(body["name"])):
            request = run_v2.UpdateJobRequest(job=job, validate_only=validate_only)
            operation = self._clients.run_jobs.update_job(request=request)
            return _to_doc(operation.result(timeout=120))

    def delete_job(self, name: str, *, etag: str = "") -> None:
        """Delete the job and its executions; with ``etag``, only if it is still the job that was read."""
        from google.cloud import run_v2

        with google_call(f"deleting Cloud Run job {name.rsplit('/', 1)[-1]}", project=_project(name)):
            request = run_v2.DeleteJobRequest(name=name, etag=etag)
            self._clients.run_jobs.delete_job(request=request).result(timeout=120)

    def run_job(
        self,
        name: str,
        *,
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        task_count: int | None = None,
        timeout_s: int | None = None,
    ) -> dict[str, Any]:
        """Start one execution with these overrides; the execution as it starts (never waits for it)."""
        from google.cloud import run_v2
        from google.protobuf import duration_pb2

        container: dict[str, Any] = {}
        if args is not None:
            container["args"] = list(args)
            container["clear_args"] = not args
        if env:
            container["env"] = [run_v2.EnvVar(name=k, value=v) for k, v in env.items()]
        overrides: dict[str, Any] = {}
        if container:
            overrides["container_overrides"] = [run_v2.RunJobRequest.Overrides.ContainerOverride(**container)]
        if task_count:
            overrides["task_count"] = task_count
        if timeout_s:
            overrides["timeout"] = duration_pb2.Duration(seconds=timeout_s)
        request = run_v2.RunJobRequest(name=name)
        if overrides:
            request.overrides = run_v2.RunJobRequest.Overrides(**overrides)
        with google_call(f"starting an execution of Cloud Run job {name.rsplit('/', 1)[-1]}", project=_project(name)):
            operation = self._clients.run_jobs.run_job(request=request)
        return _to_doc(operation.metadata)

    def get_execution(self, name: str) -> dict[str, Any]:
        with google_call("reading the execution", project=_project(name)):
            return _to_doc(self._clients.run_executions.get_execution(name=name))

    def list_executions(self, job: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """The newest ``limit`` executions (Google lists them newest first)."""
        found: list[dict[str, Any]] = []
        with google_call("listing the job's executions", project=_project(job)):
            for execution in self._clients.run_executions.list_executions(
                request={"parent": job, "page_size": min(limit, 100)}
            ):
                found.append(_to_doc(execution))
                if len(found) >= limit:
                    break
        return found

    def list_tasks(self, execution: str) -> list[dict[str, Any]]:
        with google_call("listing the execution's tasks", project=_project(execution)):
            return [_to_doc(task) for task in self._clients.run_tasks.list_tasks(parent=execution)]

    def cancel_execution(self, name: str) -> None:
        with google_call("cancelling the execution", project=_project(name)):
            self._clients.run_executions.cancel_execution(name=name)
