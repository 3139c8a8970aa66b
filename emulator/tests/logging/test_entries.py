"""Cloud Logging ``entries.list``: the filter subset, paging and order; gcloud as a second client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

from deployer_emulator.logging.surface import parse_filter
from deployer_emulator.testing import EmulatorHandle, gcloud_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "run"))
from run_support import PARENT, PROJECT, PUBLIC_IMAGE


def test_the_filter_google_documents_for_job_logs_parses() -> None:
    terms = parse_filter(
        'resource.type="cloud_run_job" AND resource.labels.job_name="train" '
        'labels."run.googleapis.com/task_index"="0" timestamp>="2026-01-01T00:00:00Z"'
    )
    assert terms == [
        (["resource", "type"], "=", "cloud_run_job"),
        (["resource", "labels", "job_name"], "=", "train"),
        (["labels", "run.googleapis.com/task_index"], "=", "0"),
        (["timestamp"], ">=", "2026-01-01T00:00:00Z"),
    ]


def test_unsupported_syntax_and_missing_resource_names_are_400(emulator: EmulatorHandle) -> None:
    bad = requests.post(
        f"{emulator.url}/v2/entries:list",
        json={"resourceNames": [f"projects/{PROJECT}"], "filter": "(a OR"},
        timeout=10,
    )
    assert bad.status_code == 400
    missing = requests.post(f"{emulator.url}/v2/entries:list", json={"filter": ""}, timeout=10)
    assert missing.status_code == 400


@pytest.mark.containers
@pytest.mark.gcloud
def test_gcloud_logging_read_sees_a_tasks_output(engine_emulator: EmulatorHandle, tmp_path: Path) -> None:
    options = {
        "credentials": AnonymousCredentials(),
        "transport": "rest",
        "client_options": {"api_endpoint": engine_emulator.url},
    }
    jobs, executions = run_v2.JobsClient(**options), run_v2.ExecutionsClient(**options)
    container = run_v2.Container(image=PUBLIC_IMAGE, command=["python", "-c", "print('seen by gcloud')"])
    job = run_v2.Job(template=run_v2.ExecutionTemplate(template=run_v2.TaskTemplate(containers=[container])))
    jobs.create_job(parent=PARENT, job_id="gcloud-seen", job=job).result(timeout=30)
    name = jobs.run_job(name=f"{PARENT}/jobs/gcloud-seen").metadata.name
    deadline = time.monotonic() + 60
    while not executions.get_execution(name=name).completion_time and time.monotonic() < deadline:
        time.sleep(0.3)
    token = tmp_path / "token"
    token.write_text("emulator:user:developer@example.com")
    env = gcloud_env(engine_emulator.url, tmp_path / "config", ("logging",), project=PROJECT, token_file=token)
    log_filter = 'resource.type="cloud_run_job" resource.labels.job_name="gcloud-seen"'
    result = subprocess.run(
        ["gcloud", "logging", "read", log_filter, "--format=json", f"--project={PROJECT}"],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [e["textPayload"] for e in entries] == ["seen by gcloud"]
    assert entries[0]["labels"]["run.googleapis.com/execution_name"] == name.rsplit("/", 1)[-1]
