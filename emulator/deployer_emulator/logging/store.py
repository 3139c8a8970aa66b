"""Where log entries come from: a job task's stdout and stderr, stored as Cloud Run writes them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from deployer_emulator.common import now_rfc3339
from deployer_emulator.core import Emulator

ENTRIES = "logging.entries"  # insertId -> LogEntry REST JSON


def log_name(project: str, stream: str) -> str:
    # Container output goes to run.googleapis.com/stdout and .../stderr, URL-encoded in logName.
    return f"projects/{project}/logs/{quote(f'run.googleapis.com/{stream}', safe='')}"


def job_entries(
    emulator: Emulator,
    project: str,
    location: str,
    job: str,
    execution: str,
    task_index: int,
    attempt: int,
    stdout: str,
    stderr: str,
) -> None:
    """One entry per line a task attempt wrote, with the resource ``cloud_run_job`` and the labels
    ``run.googleapis.com/execution_name``, ``task_index`` and ``task_attempt`` that Cloud Run sets."""
    resource = {"type": "cloud_run_job", "labels": {"project_id": project, "job_name": job, "location": location}}
    labels = {
        "run.googleapis.com/execution_name": execution,
        "run.googleapis.com/task_index": str(task_index),
        "run.googleapis.com/task_attempt": str(attempt),
    }
    store(emulator, project, resource, labels, stdout, stderr)


def store(
    emulator: Emulator, project: str, resource: dict[str, Any], labels: dict[str, str], stdout: str, stderr: str
) -> None:
    now = now_rfc3339()
    with emulator.mutation():
        table = emulator.state.table(ENTRIES)
        for stream, text, severity in (("stdout", stdout, "DEFAULT"), ("stderr", stderr, "ERROR")):
            for line in text.splitlines():
                insert_id = f"{len(table):012d}{emulator.new_id()[:8]}"
                table[insert_id] = {
                    "insertId": insert_id,
                    "logName": log_name(project, stream),
                    "resource": resource,
                    "labels": labels,
                    "textPayload": line,
                    "timestamp": now,
                    "receiveTimestamp": now,
                    "severity": severity,
                }
