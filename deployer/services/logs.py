"""``deployer logs``: a job's or a service's log lines from Cloud Logging, and following them.

Following polls ``entries.list`` (live tailing, ``entries.tail``, needs gRPC streaming and allows only 10 sessions
per project: https://cloud.google.com/logging/quotas). Reads are limited to 60 per minute per project by default, so
the follower waits at least a second between reads and doubles the wait, up to 30 s, while nothing new arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from deployer.errors import BadInput
from deployer.gcp import GoogleCloud
from deployer.gcp.logging import LogLine, job_filter, service_filter

MIN_WAIT_S = 1.0
MAX_WAIT_S = 30.0


def since_timestamp(since: str, now: datetime | None = None) -> str:
    """``"1h"``, ``"30m"``, ``"2d"`` ago as RFC 3339; BadInput otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = since.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise BadInput(f'--since "{since}": give a duration like 30m, 1h or 2d', "e.g. --since 1h")
    moment = (now or datetime.now(UTC)) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_filter(kind: str, name: str, region: str, *, execution: str, task: int | None, since: str) -> str:
    if kind == "job":
        return job_filter(name, region, execution=execution, task=task, since=since)
    if execution or task is not None:
        raise BadInput(f"--execution and --task are for jobs; {name} is a Cloud Run service", "drop them")
    return service_filter(name, region, since=since)


def read_logs(
    cloud: GoogleCloud,
    project: str,
    log_filter_text: str,
    *,
    follow: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogLine]:
    """Every matching line, oldest first; with ``follow``, then each new one as it arrives, until interrupted."""
    seen: set[str] = set()
    wait = MIN_WAIT_S
    while True:
        new = [line for line in cloud.logging(project).read(log_filter_text) if line.insert_id not in seen]
        for line in new:
            seen.add(line.insert_id)
            yield line
        if not follow:
            return
        wait = MIN_WAIT_S if new else min(wait * 2, MAX_WAIT_S)
        sleep(wait)
