"""Cloud Run v2 executions and tasks: each task really runs as a container, with its real exit code.

An execution runs ``taskCount`` tasks, at most ``parallelism`` at once (0: all at once), each retried up to
``maxRetries`` times and stopped after ``timeout`` per attempt (``task_template.proto``). Every container gets
CLOUD_RUN_JOB, CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_ATTEMPT and CLOUD_RUN_TASK_COUNT
(https://cloud.google.com/run/docs/container-contract#jobs-env-vars). Its stdout and stderr become Cloud Logging
entries with the resource and labels Google gives job logs (logging/store.py). Status follows ``execution.proto``:
counts, ``completionTime``, and a ``Completed`` condition (the type gcloud and v1 show; the v2 string is unconfirmed)
whose reason is NON_ZERO_EXIT_CODE or CANCELLED (``condition.proto``, ExecutionReason).

Paths: ``google/cloud/run_v2/services/executions/transports/rest_base.py`` and ``.../tasks/...``.
Without a container engine nothing can run: the tasks fail at once and their condition says why.
"""

from __future__ import annotations

import copy
import random
import re
import string
import threading
import time
from typing import Any

from deployer_emulator.common import now_rfc3339
from deployer_emulator.core import OperationHandle, Request, paginate
from deployer_emulator.errors import ApiError, not_found
from deployer_emulator.logging.store import job_entries
from deployer_emulator.run.base import _check_query, _done_operation, _duration_s, _etag, _short, _uuid
from deployer_emulator.run.runtime import RevisionFailed
from deployer_emulator.run.state import RunBase

EXECUTION_TYPE = "type.googleapis.com/google.cloud.run.v2.Execution"
EXECUTIONS = "run.executions"  # execution name -> Execution REST JSON
TASKS = "run.tasks"  # task name -> Task REST JSON
_POLL_S = 0.2
DELETE_QUERY = frozenset({"validateOnly", "etag"})


def _missing(kind: str, project: str, location: str, name: str) -> ApiError:
    return not_found(
        f"Resource '{name}' of kind '{kind}' in region '{location}' in project '{project}' does not exist."
    )


class Executions(RunBase):
    """Executions and tasks: their handlers, and the threads that run them."""

    _cancelled: set[str]

    def _cancel_flags(self) -> set[str]:
        if not hasattr(self, "_cancelled"):
            self._cancelled = set()
        return self._cancelled

    def _read(self, table: str, name: str, kind: str) -> dict[str, Any]:
        """A stored document (a copy), or Cloud Run's 404 naming its kind."""
        with self.emulator.state.lock:
            found = self._table(table).get(name)
        if found is None:
            parts = name.split("/")
            raise _missing(kind, parts[1], parts[3], parts[-1])
        return copy.deepcopy(found)

    def _get(
        self, req: Request, permission: str, table: str, kind: str, name: str, query: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """The checks every get and delete makes first: the query, the caller, the document."""
        _check_query(req, set(query))
        self.emulator.authorize(req, permission, name)
        return self._read(table, name, kind)

    def _fresh(self, name: str, now: str) -> dict[str, Any]:
        """What every new job, execution and task starts with."""
        return {
            "name": name,
            "uid": _uuid(self.emulator),
            "generation": "1",
            "observedGeneration": "1",
            "createTime": now,
        }

    def _store(self, table: str, message: str, doc: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import run_v2

        doc = self._canonical(getattr(run_v2, message), doc)
        self._table(table)[doc["name"]] = doc
        return doc

    def new_execution(self, job: dict[str, Any], template: dict[str, Any], creator: str) -> dict[str, Any]:
        """Store a new execution of ``job`` (state lock held) with its tasks, pending."""
        # Google names executions JOB-xxxxx, five random lowercase letters and digits (e.g. "myjob-8mpvk").
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        name = f"{job['name']}/executions/{_short(job['name'])}-{suffix}"
        now = now_rfc3339()
        doc: dict[str, Any] = {
            **self._fresh(name, now),
            "launchStage": job.get("launchStage", "GA"),
            "job": _short(job["name"]),
            "labels": dict(template.get("labels") or {}),
            "parallelism": int(template.get("parallelism", 0)),
            "taskCount": int(template["taskCount"]),
            "template": template["template"],
            "reconciling": True,
            "conditions": [
                {"type": "Completed", "state": "CONDITION_PENDING", "lastTransitionTime": now},
                {"type": "ResourcesAvailable", "state": "CONDITION_PENDING", "lastTransitionTime": now},
            ],
            "logUri": f"{self.emulator.base_url}/_emulator/state#{name}",
            "etag": _etag(),
        }
        if creator:
            doc["creator"] = creator
        doc = self._store(EXECUTIONS, "Execution", doc)
        for index in range(doc["taskCount"]):
            task = {
                **self._fresh(f"{name}/tasks/{_short(name)}-task{index}", now),
                "job": _short(job["name"]),
                "execution": _short(name),
                "containers": copy.deepcopy(template["template"]["containers"]),
                "maxRetries": template["template"].get("maxRetries", 0),
                "timeout": template["template"]["timeout"],
                "serviceAccount": template["template"]["serviceAccount"],
                "index": index,
                "reconciling": True,
                "conditions": [{"type": "Completed", "state": "CONDITION_PENDING", "lastTransitionTime": now}],
                "logUri": doc["logUri"],
                "etag": _etag(),
            }
            self._store(TASKS, "Task", task)
        return doc

    def start_execution(self, project: str, location: str, execution: dict[str, Any]) -> dict[str, Any]:
        """The RunJob operation: its metadata is the execution at once; it is done when the execution is."""
        name = execution["name"]

        def work(handle: OperationHandle) -> dict[str, Any]:
            self._run_execution(name)
            with self.emulator.state.lock:
                doc = copy.deepcopy(self._table(EXECUTIONS)[name])
            completed = next(c for c in doc["conditions"] if c["type"] == "Completed")
            if completed["state"] != "CONDITION_SUCCEEDED":
                raise ApiError("FAILED_PRECONDITION", completed.get("message", "The execution failed."))
            return {"@type": EXECUTION_TYPE, **doc}

        return self.emulator.start_operation(
            self._operation_name(project, location), {"@type": EXECUTION_TYPE, **execution}, work
        )

    # -- running ---------------------------------------------------------------------------------------------
    def _run_execution(self, name: str) -> None:
        with self.emulator.mutation():
            doc = copy.deepcopy(self._table(EXECUTIONS)[name])
            doc["startTime"] = now_rfc3339()
            doc["conditions"][1]["state"] = "CONDITION_SUCCEEDED"
            self._store(EXECUTIONS, "Execution", doc)
        count = int(doc["taskCount"])
        parallelism = int(doc.get("parallelism") or count)
        gate = threading.Semaphore(parallelism)
        threads = []
        for index in range(count):
            gate.acquire()
            if name in self._cancel_flags():
                gate.release()
                self._finish_task(name, index, None, "cancelled", 0)
                continue
            thread = threading.Thread(target=self._task_thread, args=(name, index, gate), daemon=True)
            threads.append(thread)
            thread.start()
        for thread in threads:
            thread.join()
        self._finish_execution(name)

    def _task_thread(self, execution: str, index: int, gate: threading.Semaphore) -> None:
        try:
            self._run_task(execution, index)
        except Exception as exc:  # an emulator bug still finishes the task
            self._finish_task(execution, index, None, f"internal emulator error: {exc!r}", 0)
        finally:
            gate.release()

    def _run_task(self, execution: str, index: int) -> None:
        with self.emulator.state.lock:
            doc = copy.deepcopy(self._table(EXECUTIONS)[execution])
        task_template = doc["template"]
        container = task_template["containers"][0]
        project, location, job = execution.split("/")[1], execution.split("/")[3], execution.split("/")[5]
        retries = int(task_template.get("maxRetries", 0))
        timeout_s = _duration_s(task_template["timeout"])
        engine = self.emulator.engine
        if engine is None:
            message = "The task was not run: this emulator has no container engine. Install podman or docker."
            self._finish_task(execution, index, None, message, 0)
            return
        try:
            image, not_run = self.runtime._resolve_image(container["image"], project, location, job)
        except RevisionFailed as failure:
            self._finish_task(execution, index, None, f"{failure.summary} {failure.detail}".strip(), 0)
            return
        if image is None:
            self._finish_task(execution, index, None, not_run, 0)
            return
        for attempt in range(retries + 1):
            self._task_running(execution, index, attempt)
            env = {e["name"]: e.get("value", "") for e in container.get("env", []) if "valueSource" not in e}
            env.update(
                CLOUD_RUN_JOB=job,
                CLOUD_RUN_EXECUTION=_short(execution),
                CLOUD_RUN_TASK_INDEX=str(index),
                CLOUD_RUN_TASK_ATTEMPT=str(attempt),
                CLOUD_RUN_TASK_COUNT=str(doc["taskCount"]),
            )
            container_name = re.sub(
                r"[^a-zA-Z0-9_.-]", "-", f"deployer-emu-{project}-{_short(execution)}-{index}-{attempt}"
            )
            engine.remove(container_name)
            container_id, output = engine.run_detached(
                image,
                name=container_name,
                env=env,
                publish={},
                command=container.get("command", []),
                args=container.get("args", []),
                labels={"dev.deployer_emulator.run.execution": execution},
            )
            if container_id is None:
                self._finish_task(execution, index, None, f"The container engine could not start it: {output}", attempt)
                return
            self.runtime.track(container_id)
            exit_code, why = self._wait_exit(engine, container_id, execution, timeout_s)
            stdout, stderr = engine.output(container_id)
            job_entries(self.emulator, project, location, job, _short(execution), index, attempt, stdout, stderr)
            self.runtime.untrack(container_id)
            engine.remove(container_id)
            if why == "cancelled":
                self._finish_task(execution, index, exit_code, "cancelled", attempt)
                return
            if exit_code == 0:
                self._finish_task(execution, index, 0, "", attempt)
                return
            if attempt == retries:
                self._finish_task(execution, index, exit_code, why, attempt)
                return
            self._count_retry(execution, index)

    def _wait_exit(self, engine: Any, container_id: str, execution: str, timeout_s: float) -> tuple[int | None, str]:
        deadline = time.monotonic() + timeout_s
        while True:
            running, exit_code = engine.state(container_id)
            if not running:
                return exit_code, f"Task failed with exit code {exit_code}." if exit_code else ""
            if execution in self._cancel_flags():
                engine.remove(container_id)
                return None, "cancelled"
            if time.monotonic() >= deadline:
                engine.remove(container_id)
                # Google: a task past its timeout is stopped and counts as failed (task-timeout page).
                return None, f"The task timed out after {timeout_s:g}s."
            time.sleep(_POLL_S)

    def _task_doc(self, execution: str, index: int) -> tuple[str, dict[str, Any]]:
        name = f"{execution}/tasks/{_short(execution)}-task{index}"
        return name, copy.deepcopy(self._table(TASKS)[name])

    def _task_running(self, execution: str, index: int, attempt: int) -> None:
        now = now_rfc3339()
        with self.emulator.mutation():
            if execution not in self._table(EXECUTIONS):
                return
            _, task = self._task_doc(execution, index)
            task.setdefault("scheduledTime", now)
            task["startTime"] = now
            task["retried"] = attempt
            self._store(TASKS, "Task", task)
            self._recount(execution)

    def _count_retry(self, execution: str, index: int) -> None:
        with self.emulator.mutation():
            if execution in self._table(EXECUTIONS):
                self._recount(execution)

    def _finish_task(self, execution: str, index: int, exit_code: int | None, message: str, attempt: int) -> None:
        now = now_rfc3339()
        with self.emulator.mutation():
            if execution not in self._table(EXECUTIONS):
                return
            _, task = self._task_doc(execution, index)
            task["completionTime"] = now
            task["reconciling"] = False
            task["retried"] = attempt
            if message == "cancelled":
                state, reason = "CONDITION_FAILED", "CANCELLED"
                task["lastAttemptResult"] = {"status": {"code": 1, "message": "Task was cancelled."}}
            elif exit_code == 0:
                state, reason = "CONDITION_SUCCEEDED", ""
                task["lastAttemptResult"] = {"status": {}, "exitCode": 0}
            else:
                state, reason = "CONDITION_FAILED", "NON_ZERO_EXIT_CODE" if exit_code else ""
                result: dict[str, Any] = {"status": {"code": 2, "message": message}}
                if exit_code is not None:
                    result["exitCode"] = exit_code
                task["lastAttemptResult"] = result
            condition: dict[str, Any] = {"type": "Completed", "state": state, "lastTransitionTime": now}
            if reason:
                condition["executionReason"] = reason
            if message and message != "cancelled":
                condition["message"] = message
            task["conditions"] = [condition]
            self._store(TASKS, "Task", task)
            self._recount(execution)

    def _tasks_of(self, execution: str) -> list[dict[str, Any]]:
        prefix = f"{execution}/tasks/"
        tasks = [copy.deepcopy(t) for n, t in self._table(TASKS).items() if n.startswith(prefix)]
        return sorted(tasks, key=lambda t: int(t.get("index", 0)))

    def _recount(self, execution: str) -> None:
        """The execution's counts from its tasks (state lock held)."""
        doc = copy.deepcopy(self._table(EXECUTIONS)[execution])
        tasks = self._tasks_of(execution)
        states = [t["conditions"][0] for t in tasks]
        doc["succeededCount"] = sum(1 for c in states if c["state"] == "CONDITION_SUCCEEDED")
        doc["cancelledCount"] = sum(1 for c in states if c.get("executionReason") == "CANCELLED")
        doc["failedCount"] = sum(
            1 for c in states if c["state"] == "CONDITION_FAILED" and c.get("executionReason") != "CANCELLED"
        )
        doc["runningCount"] = sum(1 for t in tasks if t.get("startTime") and not t.get("completionTime"))
        doc["retriedCount"] = sum(int(t.get("retried", 0)) for t in tasks)
        self._store(EXECUTIONS, "Execution", doc)

    def _finish_execution(self, name: str) -> None:
        now = now_rfc3339()
        with self.emulator.mutation():
            if name not in self._table(EXECUTIONS):
                return
            self._recount(name)
            doc = copy.deepcopy(self._table(EXECUTIONS)[name])
            doc["completionTime"] = now
            doc["reconciling"] = False
            failed, cancelled = int(doc.get("failedCount", 0)), int(doc.get("cancelledCount", 0))
            completed: dict[str, Any] = {"type": "Completed", "lastTransitionTime": now}
            if cancelled:
                completed.update(
                    state="CONDITION_FAILED", executionReason="CANCELLED", message="The execution was cancelled."
                )
                status = "EXECUTION_CANCELLED"
            elif failed:
                task_failed = next(
                    t for t in self._tasks_of(name) if t["conditions"][0].get("state") == "CONDITION_FAILED"
                )
                detail = task_failed["conditions"][0].get("message", "")
                completed.update(
                    state="CONDITION_FAILED",
                    executionReason="NON_ZERO_EXIT_CODE",
                    message=f"Task {task_failed['name'].rsplit('/', 1)[-1]} failed. {detail}".strip()
                    + f" {failed} of {doc['taskCount']} tasks failed.",
                )
                status = "EXECUTION_FAILED"
            else:
                completed.update(state="CONDITION_SUCCEEDED", message="Execution completed successfully.")
                status = "EXECUTION_SUCCEEDED"
            doc["conditions"][0] = completed
            self._store(EXECUTIONS, "Execution", doc)
            job = self._table("run.jobs").get(name.split("/executions/")[0])
            latest = (job or {}).get("latestCreatedExecution") or {}
            if job is not None and latest.get("name") == name:
                job = copy.deepcopy(job)
                job["latestCreatedExecution"] = {**latest, "completionTime": now, "completionStatus": status}
                self._store("run.jobs", "Job", job)
        self._cancel_flags().discard(name)

    def cancel_running(self, name: str) -> None:
        self._cancel_flags().add(name)

    # -- handlers --------------------------------------------------------------------------------------------
    def get_execution(self, req: Request, project: str, location: str, job: str, execution: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/jobs/{job}/executions/{execution}"
        return self._get(req, "run.executions.get", EXECUTIONS, "EXECUTION", name)

    def list_executions(self, req: Request, project: str, location: str, job: str) -> dict[str, Any]:
        _check_query(req, {"pageSize", "pageToken", "showDeleted"})
        parent = f"projects/{project}/locations/{location}/jobs/{job}"
        self.emulator.authorize(req, "run.executions.list", parent)
        with self.emulator.state.lock:
            docs = [
                copy.deepcopy(d)
                for n, d in self._table(EXECUTIONS).items()
                if n.startswith(f"{parent}/executions/")
                or (job == "-" and n.startswith(f"projects/{project}/locations/{location}/jobs/"))
            ]
        # "sorted by creation time, descending" (ListExecutionsResponse)
        docs.sort(key=lambda d: d["createTime"], reverse=True)
        return paginate(docs, req, key="executions")

    def delete_execution(self, req: Request, project: str, location: str, job: str, execution: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/jobs/{job}/executions/{execution}"
        doc = self._get(req, "run.executions.delete", EXECUTIONS, "EXECUTION", name, DELETE_QUERY)
        with self.emulator.mutation():
            if req.flag("validateOnly"):
                return _done_operation(self._operation_name(project, location), EXECUTION_TYPE, doc)
            self.cancel_running(name)
            self._table(EXECUTIONS).pop(name, None)
            for task in [t for t in self._table(TASKS) if t.startswith(name + "/tasks/")]:
                del self._table(TASKS)[task]
        return _done_operation(self._operation_name(project, location), EXECUTION_TYPE, doc)

    def cancel_execution(self, req: Request, project: str, location: str, job: str, execution: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/jobs/{job}/executions/{execution}"
        self.emulator.authorize(req, "run.executions.cancel", name)
        doc = self._read(EXECUTIONS, name, "EXECUTION")
        if not doc.get("completionTime"):
            self.cancel_running(name)

        def work(handle: OperationHandle) -> dict[str, Any]:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with self.emulator.state.lock:
                    now_doc = copy.deepcopy(self._table(EXECUTIONS).get(name) or doc)
                if now_doc.get("completionTime"):
                    return {"@type": EXECUTION_TYPE, **now_doc}
                time.sleep(_POLL_S)
            raise ApiError("DEADLINE_EXCEEDED", "The execution did not stop in time.")

        return self.emulator.start_operation(
            self._operation_name(project, location), {"@type": EXECUTION_TYPE, **doc}, work
        )

    def get_task(
        self, req: Request, project: str, location: str, job: str, execution: str, task: str
    ) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/jobs/{job}/executions/{execution}/tasks/{task}"
        return self._get(req, "run.tasks.get", TASKS, "TASK", name)

    def list_tasks(self, req: Request, project: str, location: str, job: str, execution: str) -> dict[str, Any]:
        _check_query(req, {"pageSize", "pageToken", "showDeleted"})
        parent = f"projects/{project}/locations/{location}/jobs/{job}/executions/{execution}"
        self.emulator.authorize(req, "run.tasks.list", parent)
        with self.emulator.state.lock:
            if execution != "-" and parent not in self._table(EXECUTIONS):
                raise _missing("EXECUTION", project, location, execution)
            docs = self._tasks_of(parent)
        return paginate(docs, req, key="tasks")
