"""``deployer run``: start executions of a Cloud Run job with overrides, follow them, and sweep a grid.

Following polls ``get_execution`` with no deadline of its own: a healthy execution is followed for as long as it
runs (``operation.result()`` would stop after its default 15 minutes). Logs are read from Cloud Logging at most
once per poll, within its read quota (gcp/logging.py).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deployer.config.job import JobConfig, sweep_fields
from deployer.errors import BadInput
from deployer.gcp import GoogleCloud
from deployer.gcp.logging import LogLine, job_filter
from deployer.plan import attributes
from deployer.reporter import Reporter

POLL_S = 2.0
# The env var that records a sweep point on its execution (RunJobRequest has no labels: overrides can set only
# args, env, task_count and timeout), so `--resume` can find the points that succeeded.
SWEEP_POINT_ENV = "DEPLOYER_SWEEP_POINT"
LAST_LINES = 10


@dataclass
class TaskFailure:
    index: int
    exit_code: int | None
    message: str
    last_lines: list[str] = field(default_factory=list)


@dataclass
class ExecutionOutcome:
    execution: str  # the short name
    status: str  # succeeded, failed, cancelled, running
    task_count: int = 0
    succeeded: int = 0
    failed: int = 0
    duration_s: float | None = None
    log_uri: str = ""
    point: dict[str, str] = field(default_factory=dict)
    failures: list[TaskFailure] = field(default_factory=list)
    skipped: bool = False  # a --resume point that had succeeded before

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_json(self) -> dict[str, Any]:
        counts = attributes(self, "execution", "status", "task_count", "succeeded", "failed", "duration_s", "log_uri")
        return {
            **counts,
            **attributes(self, "point", "skipped"),
            "failed_tasks": [
                {"index": f.index, "exit_code": f.exit_code, "message": f.message, "last_lines": f.last_lines}
                for f in self.failures
            ],
        }


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    began = datetime.fromisoformat(start.replace("Z", "+00:00"))
    ended = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return round((ended - began).total_seconds(), 1)


def status_of(execution: dict[str, Any]) -> str:
    if not execution.get("completionTime"):
        return "running"
    if int(execution.get("cancelledCount", 0)):
        return "cancelled"
    if int(execution.get("failedCount", 0)) or int(execution.get("succeededCount", 0)) < int(
        execution.get("taskCount", 1)
    ):
        return "failed"
    return "succeeded"


def outcome_of(execution: dict[str, Any]) -> ExecutionOutcome:
    return ExecutionOutcome(
        execution=str(execution.get("name", "")).rsplit("/", 1)[-1],
        status=status_of(execution),
        task_count=int(execution.get("taskCount", 0)),
        succeeded=int(execution.get("succeededCount", 0)),
        failed=int(execution.get("failedCount", 0)),
        duration_s=_seconds(execution.get("startTime") or execution.get("createTime"), execution.get("completionTime")),
        log_uri=str(execution.get("logUri", "")),
    )


class JobRunner:
    """Starts and follows executions of one job. ``sleep`` is injectable: tests follow long runs without waiting."""

    def __init__(
        self,
        cloud: GoogleCloud,
        reporter: Reporter,
        *,
        project: str,
        region: str,
        job: str,
        poll_s: float = POLL_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cloud = cloud
        self._reporter = reporter
        self.project, self.region, self.job = project, region, job
        self.full_name = f"projects/{project}/locations/{region}/jobs/{job}"
        self._poll_s = poll_s
        self._sleep = sleep

    def start(
        self,
        *,
        args: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        tasks: int | None = None,
        timeout_s: int | None = None,
    ) -> dict[str, Any]:
        return self._cloud.run_jobs.run_job(self.full_name, args=args, env=env, task_count=tasks, timeout_s=timeout_s)

    def follow(self, execution: dict[str, Any], *, on_log: Callable[[LogLine], None] | None = None) -> ExecutionOutcome:
        """Poll until the execution completes, reporting progress and (with ``on_log``) each new log line."""
        name = str(execution["name"])
        short = name.rsplit("/", 1)[-1]
        self._reporter.info(f"Execution {short}: logs {execution.get('logUri', '')}")
        seen: set[str] = set()
        last_progress = ""
        while True:
            execution = self._cloud.run_jobs.get_execution(name)
            if on_log is not None:
                self._new_lines(short, seen, on_log)
            progress = (
                f"{short}: {int(execution.get('succeededCount', 0))}/{int(execution.get('taskCount', 0))} tasks done, "
                f"{int(execution.get('failedCount', 0))} failed, {int(execution.get('runningCount', 0))} running"
            )
            if progress != last_progress:
                self._reporter.info(progress)
                last_progress = progress
            if execution.get("completionTime"):
                break
            self._sleep(self._poll_s)
        if on_log is not None:
            self._new_lines(short, seen, on_log)
        outcome = outcome_of(execution)
        if not outcome.ok:
            outcome.failures = self._failures(name, short)
        return outcome

    def _new_lines(self, execution: str, seen: set[str], on_log: Callable[[LogLine], None]) -> None:
        for line in self._cloud.logging(self.project).read(job_filter(self.job, self.region, execution=execution)):
            if line.insert_id not in seen:
                seen.add(line.insert_id)
                on_log(line)

    def _failures(self, name: str, short: str) -> list[TaskFailure]:
        failures: list[TaskFailure] = []
        for task in self._cloud.run_jobs.list_tasks(name):
            condition = (task.get("conditions") or [{}])[0]
            if condition.get("state") == "CONDITION_SUCCEEDED":
                continue
            result = task.get("lastAttemptResult") or {}
            index = int(task.get("index", 0))
            lines = self._cloud.logging(self.project).read(
                job_filter(self.job, self.region, execution=short, task=index)
            )
            failures.append(
                TaskFailure(
                    index=index,
                    exit_code=int(result["exitCode"]) if "exitCode" in result else None,
                    message=str(condition.get("message") or (result.get("status") or {}).get("message", "")),
                    last_lines=[line.text for line in lines[-LAST_LINES:]],
                )
            )
        return failures


def job_status(cloud: GoogleCloud, project: str, region: str, job: str, *, limit: int = 5) -> dict[str, Any]:
    """The job (whether it exists, its image and task count) and its last executions, newest first."""
    full = f"projects/{project}/locations/{region}/jobs/{job}"
    found = cloud.run_jobs.get_job(full)
    executions = [outcome_of(e).to_json() for e in cloud.run_jobs.list_executions(full, limit=limit)] if found else []
    template = (found or {}).get("template") or {}
    containers = (template.get("template") or {}).get("containers") or [{}]
    return {
        "target": "job",
        "name": job,
        "project": project,
        "region": region,
        "exists": found is not None,
        "image": containers[0].get("image", ""),
        "tasks": int(template.get("taskCount", 0) or 0),
        "executions": executions,
    }


# --- sweeps ---------------------------------------------------------------------------------------------------------


def parse_sweep(values: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``["lr=0.1,0.01", "bs=32,64"]`` → ``[("lr", ["0.1", "0.01"]), ("bs", ["32", "64"])]``; BadInput otherwise."""
    axes: list[tuple[str, list[str]]] = []
    for value in values:
        key, sep, listed = value.partition("=")
        key = key.strip()
        items = [v.strip() for v in listed.split(",") if v.strip()]
        if not sep or not key.isidentifier() or not items:
            raise BadInput(
                f'--sweep "{value}": a sweep is NAME=V1,V2,... with NAME letters, digits and underscores',
                "e.g. --sweep lr=0.1,0.01 --sweep bs=32,64",
            )
        if key in (k for k, _ in axes):
            raise BadInput(f"--sweep {key} is given twice", f"list every value of {key} in one --sweep {key}=...")
        axes.append((key, items))
    return axes


def grid(axes: list[tuple[str, list[str]]]) -> list[dict[str, str]]:
    keys = [k for k, _ in axes]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]


def point_text(point: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in point.items())


def point_overrides(config: JobConfig, point: dict[str, str]) -> tuple[list[str] | None, dict[str, str]]:
    """A point's args (from ``sweep_args``) or env (NAME upper-cased), and the env that records the point."""
    env = {SWEEP_POINT_ENV: point_text(point)}
    if config.sweep_args:
        used = sweep_fields(config.sweep_args)
        unknown = [k for k in used if k not in point]
        unused = [k for k in point if k not in used]
        if unknown or unused:
            raise BadInput(
                f"sweep_args = {list(config.sweep_args)} uses {', '.join(used)}; the sweep gives {', '.join(point)}",
                "sweep exactly the names sweep_args uses (or drop sweep_args to pass the values as env)",
            )
        return [part.format(**point) for part in config.sweep_args], env
    return None, {**env, **{k.upper(): v for k, v in point.items()}}


def succeeded_points(cloud: GoogleCloud, job: str) -> set[str]:
    """The sweep points with a succeeded execution, read from the env each execution recorded."""
    done: set[str] = set()
    for execution in cloud.run_jobs.list_executions(job, limit=1000):
        if status_of(execution) != "succeeded":
            continue
        containers = (execution.get("template") or {}).get("containers") or [{}]
        for env in containers[0].get("env") or []:
            if env.get("name") == SWEEP_POINT_ENV:
                done.add(str(env.get("value", "")))
    return done


def run_sweep(
    runner: JobRunner,
    config: JobConfig,
    axes: list[tuple[str, list[str]]],
    *,
    max_parallel: int,
    resume: bool,
    tasks: int | None = None,
    timeout_s: int | None = None,
) -> list[ExecutionOutcome]:
    """One execution per grid point, at most ``max_parallel`` at once; a failed point does not stop the others."""
    points = grid(axes)
    for point in points:
        point_overrides(config, point)  # refuse a bad template before anything starts
    done = succeeded_points(runner._cloud, runner.full_name) if resume else set()

    def one(point: dict[str, str]) -> ExecutionOutcome:
        if point_text(point) in done:
            return ExecutionOutcome(execution="", status="succeeded", point=point, skipped=True)
        args, env = point_overrides(config, point)
        outcome = runner.follow(runner.start(args=args, env=env, tasks=tasks, timeout_s=timeout_s))
        outcome.point = point
        return outcome

    with ThreadPoolExecutor(max(1, max_parallel), thread_name_prefix="deployer-sweep") as pool:
        return list(pool.map(one, points))
