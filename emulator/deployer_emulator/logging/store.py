"""Where log entries come from: a job task's stdout and stderr, stored as Cloud Run writes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from deployer_emulator.common import now_rfc3339
from deployer_emulator.core import Emulator

ENTRIES = "logging.entries"  # insertId -> LogEntry REST JSON
Source = Callable[[], list[dict[str, Any]]]


def add_source(emulator: Emulator, source: Source) -> None:
    """Entries read live at each entries.list (a running service's containers), rather than stored."""
    sources: list[Source] = getattr(emulator, "log_sources", [])
    sources.append(source)
    emulator.log_sources = sources  # type: ignore[attr-defined]


def live_entries(emulator: Emulator) -> list[dict[str, Any]]:
    return [entry for source in getattr(emulator, "log_sources", []) for entry in source()]


def revision_entries(
    project: str, location: str, service: str, revision: str, output: tuple[str, str]
) -> list[dict[str, Any]]:
    """A revision's container output as Cloud Run logs it: resource ``cloud_run_revision`` with the service,
    revision and configuration names. Each line carries the engine's own timestamp."""
    labels = {
        "project_id": project,
        "service_name": service,
        "revision_name": revision,
        "location": location,
        "configuration_name": service,
    }
    entries: list[dict[str, Any]] = []
    for stream, text, severity in (("stdout", output[0], "DEFAULT"), ("stderr", output[1], "ERROR")):
        for number, line in enumerate(text.splitlines()):
            stamp, _, payload = line.partition(" ")
            entries.append(
                {
                    "insertId": f"{revision}-{stream}-{number:08d}",
                    "logName": log_name(project, stream),
                    "resource": {"type": "cloud_run_revision", "labels": labels},
                    "textPayload": payload,
                    "timestamp": _rfc3339(stamp),
                    "receiveTimestamp": _rfc3339(stamp),
                    "severity": severity,
                }
            )
    return entries


def _rfc3339(stamp: str) -> str:
    """The engine's nanosecond timestamp, cut to the microseconds Google's JSON uses."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    zone = ""
    for sign in ("+", "-"):
        if sign in fraction:
            fraction, zone = fraction.split(sign, 1)[0], sign + fraction.split(sign, 1)[1]
    return f"{head}.{(fraction + '000000')[:6]}Z" if not zone or zone in ("+00:00", "-00:00") else stamp


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
