"""Cloud Run v2 jobs: create, get, list, update, delete, and run (an execution with overrides).

Paths are the ones google-cloud-run 0.16 calls (``google/cloud/run_v2/services/jobs/transports/rest_base.py``);
bodies are parsed strictly with ``run_v2.Job`` and ``run_v2.RunJobRequest``. Field rules follow
``googleapis:google/cloud/run/v2/job.proto``, ``execution_template.proto`` and ``task_template.proto``; limits follow
https://cloud.google.com/run/docs/create-jobs (10,000 tasks), .../configuring/max-retries (0 to 10, default 3) and
.../configuring/task-timeout (default 600 s, at most 168 h). UpdateJob has no update_mask: it replaces the job.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from deployer_emulator.common import caller_email, now_rfc3339
from deployer_emulator.core import Request, paginate
from deployer_emulator.errors import ApiError, already_exists, not_found
from deployer_emulator.protos import parse, to_json
from deployer_emulator.run.base import _check_query, _done_operation, _duration_s, _etag, _violation
from deployer_emulator.run.executions import DELETE_QUERY, EXECUTION_TYPE, EXECUTIONS, Executions
from deployer_emulator.run.validation import _normalize_container, check_gpu_template

JOB_TYPE = "type.googleapis.com/google.cloud.run.v2.Job"
JOBS = "run.jobs"  # job name -> Job REST JSON

_JOB_ID_RE = re.compile(r"[a-z]([a-z0-9-]{0,47}[a-z0-9])?")
MAX_TASKS = 10_000
MAX_RETRIES = 10
MAX_TIMEOUT_S = 168 * 3600
GPU_MAX_TIMEOUT_S = 3600
# Set by Cloud Run in every job container (https://cloud.google.com/run/docs/container-contract#jobs-env-vars).
RESERVED_JOB_ENV = (
    "CLOUD_RUN_JOB",
    "CLOUD_RUN_EXECUTION",
    "CLOUD_RUN_TASK_INDEX",
    "CLOUD_RUN_TASK_ATTEMPT",
    "CLOUD_RUN_TASK_COUNT",
)
_JOB_OUTPUT_ONLY = frozenset(
    [
        "name", "uid", "generation", "createTime", "updateTime", "deleteTime", "expireTime", "creator",
        "lastModifier", "observedGeneration", "terminalCondition", "conditions", "executionCount",
        "latestCreatedExecution", "reconciling", "satisfiesPzs", "etag",
    ]
)  # fmt: skip


def _job_missing(project: str, location: str, job: str) -> ApiError:
    # The same shape as Cloud Run v2's 404 for services, with the kind JOB.
    return not_found(f"Resource '{job}' of kind 'JOB' in region '{location}' in project '{project}' does not exist.")


def normalize_job(spec: dict[str, Any], path: str, project_number: str, location: str | None = None) -> dict[str, Any]:
    """A Job's desired state, checked, with Google's defaults filled in; ``path`` like ``CreateJobRequest.job``."""
    desired = {k: copy.deepcopy(v) for k, v in spec.items() if k not in _JOB_OUTPUT_ONLY}
    if desired.get("launchStage", "LAUNCH_STAGE_UNSPECIFIED") == "LAUNCH_STAGE_UNSPECIFIED":
        desired["launchStage"] = "GA"
    execution = desired.get("template")
    if not execution:
        raise _violation(f"{path}.template", "required field not present.")
    execution = dict(execution)
    tasks = int(execution.get("taskCount", 0) or 1)  # "Defaults to 1" (ExecutionTemplate.task_count)
    if not 1 <= tasks <= MAX_TASKS:
        raise _violation(f"{path}.template.task_count", f"must be between 1 and {MAX_TASKS}.")  # unconfirmed wording
    execution["taskCount"] = tasks
    parallelism = int(execution.get("parallelism", 0))
    if parallelism < 0 or parallelism > tasks:
        # Unconfirmed wording; 0 means "the maximum possible value" (ExecutionTemplate.parallelism).
        raise _violation(f"{path}.template.parallelism", "must be between 0 and task_count.")
    task = execution.get("template")
    if not task:
        raise _violation(f"{path}.template.template", "required field not present.")
    execution["template"] = normalize_task_template(dict(task), f"{path}.template.template", project_number, location)
    desired["template"] = execution
    return desired


def normalize_task_template(
    task: dict[str, Any], path: str, project_number: str, location: str | None = None
) -> dict[str, Any]:
    containers = task.get("containers") or []
    if not containers:
        raise _violation(f"{path}.containers", "required field not present.")
    given = {env.get("name", "") for container in containers for env in container.get("env", [])}
    if given.intersection(RESERVED_JOB_ENV):
        names = ", ".join(sorted(given.intersection(RESERVED_JOB_ENV)))
        # The wording Cloud Run uses for the services' reserved names (validation.py), with the jobs' names.
        raise _violation(f"{path}.containers.env", f"The following reserved env names were provided: {names}.")
    accelerator = (task.get("nodeSelector") or {}).get("accelerator", "")
    for index, container in enumerate(containers):
        containers[index], _ = _normalize_container(container, f"{path}.containers[{index}]", False, accelerator)
    task["containers"] = containers
    # TaskTemplate carries node_selector (11) and gpu_zonal_redundancy_disabled (12) as RevisionTemplate does.
    check_gpu_template(task, path, region=location, kind="job")
    if task.get("nodeSelector") and _duration_s(task.get("timeout", "600s")) > GPU_MAX_TIMEOUT_S:
        # "For tasks using GPUs, the maximum available timeout is 1 hour" (configuring/task-timeout); wording ours.
        raise _violation(f"{path}.timeout", f"must be at most {GPU_MAX_TIMEOUT_S}s for a task with a GPU.")
    retries = task.setdefault("maxRetries", 3)  # "Defaults to 3" (TaskTemplate.max_retries)
    if not 0 <= int(retries) <= MAX_RETRIES:
        raise _violation(f"{path}.max_retries", f"must be between 0 and {MAX_RETRIES}.")  # unconfirmed wording
    timeout = task.setdefault("timeout", "600s")  # "Defaults to 600 seconds" (TaskTemplate.timeout)
    if not 0 < _duration_s(timeout) <= MAX_TIMEOUT_S:
        raise _violation(f"{path}.timeout", f"must be between 1s and {MAX_TIMEOUT_S}s.")  # unconfirmed wording
    if not task.get("serviceAccount"):
        task["serviceAccount"] = f"{project_number}-compute@developer.gserviceaccount.com"
    return task


class Jobs(Executions):
    """The job handlers; executions and their tasks are in executions.py."""

    def _job(self, project: str, location: str, job: str) -> dict[str, Any]:
        return self._read(JOBS, f"projects/{project}/locations/{location}/jobs/{job}", "JOB")

    def _store_job(self, doc: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import run_v2

        doc = self._canonical(run_v2.Job, doc)
        self._table(JOBS)[doc["name"]] = doc
        return doc

    def _job_done(self, project: str, location: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Create and update finish at once: nothing runs until an execution is started."""
        return self.emulator.start_operation(
            self._operation_name(project, location),
            {"@type": JOB_TYPE, **doc},
            lambda handle: {"@type": JOB_TYPE, **doc},
        )

    def create_job(self, req: Request, project: str, location: str) -> dict[str, Any]:
        from google.cloud import run_v2

        _check_query(req, {"jobId", "validateOnly"})
        job_id = req.param("jobId") or ""
        if not _JOB_ID_RE.fullmatch(job_id):
            raise _violation(
                "CreateJobRequest.job_id",
                "only lowercase, digits, and hyphens; must begin with letter, and cannot end with hyphen; "
                "must be less than 50 characters.",
            )  # the service_id rule's wording, which Cloud Run uses for job ids too (unconfirmed)
        spec = to_json(parse(run_v2.Job, req.body, field="job"))
        name = f"projects/{project}/locations/{location}/jobs/{job_id}"
        self.emulator.authorize(req, "run.jobs.create", name)
        return self._create_job(req, project, location, job_id, spec, "CreateJobRequest")

    def _create_job(
        self, req: Request, project: str, location: str, job_id: str, spec: dict[str, Any], request: str
    ) -> dict[str, Any]:
        desired = normalize_job(spec, f"{request}.job", self.emulator.project_number(project), location)
        self._authorize_job_act_as(req, project, desired)
        name = f"projects/{project}/locations/{location}/jobs/{job_id}"
        now = now_rfc3339()
        doc: dict[str, Any] = {
            **desired,
            **self._fresh(name, now),
            "updateTime": now,
            "etag": _etag(),
            "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": now},
        }
        who = caller_email(req.caller)
        if who:
            doc["creator"] = doc["lastModifier"] = who
        if req.flag("validateOnly"):
            return _done_operation(self._operation_name(project, location), JOB_TYPE, doc)
        with self.emulator.mutation():
            if name in self._table(JOBS):
                raise already_exists(f"Resource '{job_id}' already exists.")
            doc = self._store_job(doc)
        return self._job_done(project, location, doc)

    def _authorize_job_act_as(self, req: Request, project: str, desired: dict[str, Any]) -> None:
        account = desired["template"]["template"]["serviceAccount"]
        self.emulator.authorize(req, "iam.serviceAccounts.actAs", f"projects/{project}/serviceAccounts/{account}")

    def get_job(self, req: Request, project: str, location: str, job: str) -> dict[str, Any]:
        return self._get(req, "run.jobs.get", JOBS, "JOB", f"projects/{project}/locations/{location}/jobs/{job}")

    def list_jobs(self, req: Request, project: str, location: str) -> dict[str, Any]:
        _check_query(req, {"pageSize", "pageToken", "showDeleted"})
        self.emulator.authorize(req, "run.jobs.list", f"projects/{project}/locations/{location}")
        prefix = f"projects/{project}/locations/{location}/jobs/"
        with self.emulator.state.lock:
            docs = [copy.deepcopy(d) for n, d in sorted(self._table(JOBS).items()) if n.startswith(prefix)]
        return paginate(docs, req, key="jobs")

    def update_job(self, req: Request, project: str, location: str, job: str) -> dict[str, Any]:
        from google.cloud import run_v2

        _check_query(req, {"validateOnly", "allowMissing"})
        spec = to_json(parse(run_v2.Job, req.body, field="job"))
        name = f"projects/{project}/locations/{location}/jobs/{job}"
        with self.emulator.state.lock:
            exists = name in self._table(JOBS)
        self.emulator.authorize(
            req, "run.jobs.update" if exists or not req.flag("allowMissing") else "run.jobs.create", name
        )
        if not exists:
            if not req.flag("allowMissing"):
                raise _job_missing(project, location, job)
            # allow_missing: "if the Job does not exist, it will create a new one" (UpdateJobRequest).
            return self._create_job(req, project, location, job, spec, "UpdateJobRequest")
        desired = normalize_job(spec, "UpdateJobRequest.job", self.emulator.project_number(project), location)
        self._authorize_job_act_as(req, project, desired)
        with self.emulator.mutation():
            current = self._table(JOBS).get(name)
            if current is None:
                raise _job_missing(project, location, job)
            given = spec.get("etag", "")
            if given and given != current.get("etag"):
                raise ApiError("ABORTED", f"The etag '{given}' does not match the job's current etag.")  # unconfirmed
            outputs = {k: v for k, v in current.items() if k in _JOB_OUTPUT_ONLY}
            if req.flag("validateOnly"):
                return _done_operation(self._operation_name(project, location), JOB_TYPE, {**outputs, **desired})
            now = now_rfc3339()
            doc = {**outputs, **desired, "updateTime": now, "etag": _etag()}
            if {k: v for k, v in current.items() if k not in _JOB_OUTPUT_ONLY} != desired:
                doc["generation"] = doc["observedGeneration"] = str(int(current["generation"]) + 1)
            who = caller_email(req.caller)
            if who:
                doc["lastModifier"] = who
            doc = self._store_job(doc)
        return self._job_done(project, location, doc)

    def delete_job(self, req: Request, project: str, location: str, job: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/jobs/{job}"
        doc = self._get(req, "run.jobs.delete", JOBS, "JOB", name, DELETE_QUERY)
        with self.emulator.mutation():
            self._check_etag(req, doc, "job")
            if req.flag("validateOnly"):
                return _done_operation(self._operation_name(project, location), JOB_TYPE, doc)
            if self._table(JOBS).pop(name, None) is None:
                raise _job_missing(project, location, job)
            for execution in [e for e in self._table(EXECUTIONS) if e.startswith(name + "/executions/")]:
                self.cancel_running(execution)
                del self._table(EXECUTIONS)[execution]
            doc["deleteTime"] = now_rfc3339()
        return self._job_done(project, location, doc)

    def run_job(self, req: Request, project: str, location: str, job: str) -> dict[str, Any]:
        from google.cloud import run_v2

        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/jobs/{job}"
        body = to_json(parse(run_v2.RunJobRequest, req.body, field="*"))
        overrides = body.get("overrides") or {}
        # Overrides need run.jobs.runWithOverrides besides run.jobs.run
        # (https://cloud.google.com/run/docs/reference/rest/v1/namespaces.jobs/run).
        self.emulator.authorize(req, "run.jobs.run", name)
        if overrides:
            self.emulator.authorize(req, "run.jobs.runWithOverrides", name)
        current = self._job(project, location, job)
        execution_template = copy.deepcopy(current["template"])
        task = execution_template["template"]
        for index, override in enumerate(overrides.get("containerOverrides", [])):
            wanted = override.get("name", "")
            found = next((c for c in task["containers"] if not wanted or c.get("name", "") == wanted), None)
            if found is None:
                raise _violation(
                    f"RunJobRequest.overrides.container_overrides[{index}].name",
                    f"container '{wanted}' is not in the job's template.",
                )  # unconfirmed wording
            if override.get("clearArgs"):
                found["args"] = []
            if override.get("args"):
                found["args"] = list(override["args"])  # "Will replace existing args"
            if override.get("env"):
                env = {e["name"]: e for e in found.get("env", [])}
                env.update({e["name"]: e for e in override["env"]})  # "Will be merged with existing env"
                found["env"] = list(env.values())
        if overrides.get("taskCount"):
            count = int(overrides["taskCount"])
            if not 1 <= count <= MAX_TASKS:
                raise _violation("RunJobRequest.overrides.task_count", f"must be between 1 and {MAX_TASKS}.")
            execution_template["taskCount"] = count
            if int(execution_template.get("parallelism", 0)) > count:
                execution_template["parallelism"] = count
        if overrides.get("timeout"):
            task["timeout"] = overrides["timeout"]
        execution_template["template"] = normalize_task_template(
            task, "RunJobRequest.overrides", self.emulator.project_number(project), location
        )
        if req.flag("validateOnly") or body.get("validateOnly"):
            return _done_operation(self._operation_name(project, location), EXECUTION_TYPE, {"job": job})
        with self.emulator.mutation():
            stored = self._table(JOBS).get(name)
            if stored is None:
                raise _job_missing(project, location, job)
            execution = self.new_execution(stored, execution_template, caller_email(req.caller))
            stored = copy.deepcopy(stored)
            stored["executionCount"] = int(stored.get("executionCount", 0)) + 1
            stored["latestCreatedExecution"] = {
                "name": execution["name"],
                "createTime": execution["createTime"],
                "completionStatus": "EXECUTION_PENDING",
            }
            self._store_job(stored)
        return self.start_execution(project, location, execution)
