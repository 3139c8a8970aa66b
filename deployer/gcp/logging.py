"""Cloud Logging v2: the log entries of Cloud Run jobs and services, read with ``entries.list``.

The filters are the ones Google's own tools use for Cloud Run (the Logs Explorer links of the console, and
``gcloud run jobs logs read``): ``resource.type="cloud_run_job"`` with ``resource.labels.job_name`` and the entry
labels ``run.googleapis.com/execution_name`` and ``run.googleapis.com/task_index``; ``resource.type=
"cloud_run_revision"`` with ``resource.labels.service_name`` for services.

Reading is rate-limited by Google: entries.list allows 60 requests per minute per project by default
(https://cloud.google.com/logging/quotas, "Read requests"), so a follower polls no more than once a second and
backs off when nothing new arrives (services/logs.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call

PERMISSIONS: dict[str, tuple[str, ...]] = {"read": ("logging.logEntries.list",)}


@dataclass(frozen=True)
class LogLine:
    timestamp: str  # RFC 3339
    insert_id: str
    text: str
    severity: str
    task_index: str  # "" for services
    execution: str  # "" for services


def job_filter(job: str, region: str, *, execution: str = "", task: int | None = None, since: str = "") -> str:
    terms = [
        'resource.type="cloud_run_job"',
        f'resource.labels.job_name="{job}"',
        f'resource.labels.location="{region}"',
    ]
    if execution:
        terms.append(f'labels."run.googleapis.com/execution_name"="{execution}"')
    if task is not None:
        terms.append(f'labels."run.googleapis.com/task_index"="{task}"')
    if since:
        terms.append(f'timestamp>="{since}"')
    return " ".join(terms)


def service_filter(service: str, region: str, *, since: str = "") -> str:
    terms = [
        'resource.type="cloud_run_revision"',
        f'resource.labels.service_name="{service}"',
        f'resource.labels.location="{region}"',
    ]
    if since:
        terms.append(f'timestamp>="{since}"')
    return " ".join(terms)


class LoggingAdapter:
    def __init__(self, clients: Clients, project: str) -> None:
        self._clients = clients
        self._project = project

    def read(self, log_filter: str, *, limit: int = 1000) -> list[LogLine]:
        """Entries matching ``log_filter``, oldest first."""
        lines: list[LogLine] = []
        with google_call("reading the logs from Cloud Logging", project=self._project):
            client = self._clients.logging(self._project)
            entries = client.list_entries(
                resource_names=[f"projects/{self._project}"],
                filter_=log_filter,
                order_by="timestamp asc",
                page_size=min(limit, 1000),
                max_results=limit,
            )
            for entry in entries:
                labels = entry.labels or {}
                payload = entry.payload
                text = payload if isinstance(payload, str) else str(payload)
                lines.append(
                    LogLine(
                        timestamp=entry.timestamp.isoformat() if entry.timestamp else "",
                        insert_id=entry.insert_id or "",
                        text=text,
                        severity=entry.severity or "",
                        task_index=labels.get("run.googleapis.com/task_index", ""),
                        execution=labels.get("run.googleapis.com/execution_name", ""),
                    )
                )
        return lines
