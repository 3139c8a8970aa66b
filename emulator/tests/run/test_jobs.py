"""Cloud Run v2 jobs, executions and tasks through google-cloud-run's REST transport; tasks run for real."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from google.cloud.logging_v2.client import Client as LoggingClient
from run_support import PARENT, PROJECT, PUBLIC_IMAGE, api_error

from deployer_emulator.testing import EmulatorHandle


def clients(url: str) -> tuple[run_v2.JobsClient, run_v2.ExecutionsClient, run_v2.TasksClient]:
    options = {"credentials": AnonymousCredentials(), "transport": "rest", "client_options": {"api_endpoint": url}}
    return run_v2.JobsClient(**options), run_v2.ExecutionsClient(**options), run_v2.TasksClient(**options)


def job(script: str, **execution: Any) -> run_v2.Job:
    container = run_v2.Container(image=PUBLIC_IMAGE, command=["python", "-c", script])
    task = run_v2.TaskTemplate(containers=[container], max_retries=execution.pop("max_retries", 0))
    return run_v2.Job(template=run_v2.ExecutionTemplate(template=task, **execution))


def wait(executions: run_v2.ExecutionsClient, name: str) -> run_v2.Execution:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = executions.get_execution(name=name)
        if found.completion_time:
            return found
        time.sleep(0.3)
    raise AssertionError(f"execution {name} did not finish")


def test_create_get_update_delete_and_google_defaults(emulator: EmulatorHandle) -> None:
    jobs, _, _ = clients(emulator.url)
    created = jobs.create_job(parent=PARENT, job_id="crud", job=job("print(1)")).result(timeout=30)
    assert created.name == f"{PARENT}/jobs/crud"
    assert created.template.task_count == 1  # "Defaults to 1"
    assert created.template.template.timeout.seconds == 600  # "Defaults to 600 seconds"
    assert created.template.template.max_retries == 0
    created.template.task_count = 3
    updated = jobs.update_job(job=created).result(timeout=30)
    assert updated.template.task_count == 3
    assert jobs.get_job(name=created.name).template.task_count == 3
    jobs.delete_job(name=created.name).result(timeout=30)
    with pytest.raises(gexc.NotFound):
        jobs.get_job(name=created.name)


@pytest.mark.parametrize(
    ("execution", "field"),
    [
        ({"task_count": 10_001}, "CreateJobRequest.job.template.task_count"),
        ({"task_count": 2, "parallelism": 3}, "CreateJobRequest.job.template.parallelism"),
        ({"max_retries": 11}, "CreateJobRequest.job.template.template.max_retries"),
    ],
)
def test_limits_are_googles(emulator: EmulatorHandle, execution: dict[str, Any], field: str) -> None:
    jobs, _, _ = clients(emulator.url)
    with pytest.raises(gexc.BadRequest) as caught:
        jobs.create_job(parent=PARENT, job_id="limits", job=job("print(1)", **execution))
    assert api_error(caught.value)["message"].startswith(f"Violation in {field}:")


def test_a_timeout_above_168_hours_and_reserved_env_are_refused(emulator: EmulatorHandle) -> None:
    body = {"template": {"template": {"containers": [{"image": PUBLIC_IMAGE}], "timeout": f"{168 * 3600 + 1}s"}}}
    answer = requests.post(f"{emulator.url}/v2/{PARENT}/jobs", params={"jobId": "late"}, json=body, timeout=10)
    assert answer.status_code == 400
    assert "timeout" in answer.json()["error"]["message"]
    env = [{"name": "CLOUD_RUN_TASK_INDEX", "value": "1"}]
    body = {"template": {"template": {"containers": [{"image": PUBLIC_IMAGE, "env": env}]}}}
    answer = requests.post(f"{emulator.url}/v2/{PARENT}/jobs", params={"jobId": "env"}, json=body, timeout=10)
    assert answer.status_code == 400
    assert "CLOUD_RUN_TASK_INDEX" in answer.json()["error"]["message"]


SCRIPT = (
    "import os, sys; i = int(os.environ['CLOUD_RUN_TASK_INDEX']); "
    "print('task', i, 'of', os.environ['CLOUD_RUN_TASK_COUNT'], os.environ['CLOUD_RUN_EXECUTION'], sys.argv[1:]); "
    "sys.exit(7 if os.environ.get('FAIL_INDEX') == str(i) else 0)"
)


@pytest.mark.containers
def test_tasks_run_for_real_with_overrides_exit_codes_and_logs(engine_emulator: EmulatorHandle) -> None:
    jobs, executions, tasks = clients(engine_emulator.url)
    jobs.create_job(parent=PARENT, job_id="array", job=job(SCRIPT, task_count=2, parallelism=2)).result(timeout=30)
    override = run_v2.RunJobRequest.Overrides.ContainerOverride(
        args=["--lr", "0.1"], env=[run_v2.EnvVar(name="FAIL_INDEX", value="1")]
    )
    request = run_v2.RunJobRequest(
        name=f"{PARENT}/jobs/array", overrides=run_v2.RunJobRequest.Overrides(container_overrides=[override])
    )
    operation = jobs.run_job(request=request)
    started = operation.metadata
    assert started.name.startswith(f"{PARENT}/jobs/array/executions/array-")
    done = wait(executions, started.name)
    assert (done.succeeded_count, done.failed_count, done.task_count) == (1, 1, 2)
    listed = sorted(tasks.list_tasks(parent=done.name), key=lambda t: t.index)
    assert [t.last_attempt_result.exit_code for t in listed] == [0, 7]
    with pytest.raises(gexc.GoogleAPICallError):
        operation.result(timeout=30)  # the operation fails with the execution, as Google's does

    logging = LoggingClient(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": engine_emulator.url},
        _use_grpc=False,
    )
    short = done.name.rsplit("/", 1)[-1]
    log_filter = (
        f'resource.type="cloud_run_job" resource.labels.job_name="array" '
        f'labels."run.googleapis.com/execution_name"="{short}" labels."run.googleapis.com/task_index"="1"'
    )
    entries = list(logging.list_entries(resource_names=[f"projects/{PROJECT}"], filter_=log_filter))
    assert [e.payload for e in entries] == [f"task 1 of 2 {short} ['--lr', '0.1']"]
    assert entries[0].resource.type == "cloud_run_job"


@pytest.mark.containers
def test_parallelism_retries_and_cancel(engine_emulator: EmulatorHandle) -> None:
    jobs, executions, tasks = clients(engine_emulator.url)
    flaky = "import os, sys; sys.exit(0 if os.environ['CLOUD_RUN_TASK_ATTEMPT'] == '1' else 3)"
    jobs.create_job(parent=PARENT, job_id="serial", job=job(flaky, task_count=2, parallelism=1, max_retries=1)).result(
        timeout=30
    )
    done = wait(executions, jobs.run_job(name=f"{PARENT}/jobs/serial").metadata.name)
    assert (done.succeeded_count, done.retried_count) == (2, 2)
    first, second = sorted(tasks.list_tasks(parent=done.name), key=lambda t: t.index)
    assert (first.retried, second.retried) == (1, 1)
    assert second.start_time >= first.completion_time  # parallelism 1: one task at a time

    jobs.create_job(parent=PARENT, job_id="slow", job=job("import time; time.sleep(600)")).result(timeout=30)
    running = jobs.run_job(name=f"{PARENT}/jobs/slow").metadata.name
    time.sleep(2)
    executions.cancel_execution(name=running).result(timeout=60)
    cancelled = wait(executions, running)
    assert cancelled.cancelled_count == 1
    assert cancelled.conditions[0].execution_reason == run_v2.Condition.ExecutionReason.CANCELLED


def gpu_job(accelerator: str, limits: dict[str, str], **task: Any) -> run_v2.Job:
    container = run_v2.Container(image=PUBLIC_IMAGE, resources=run_v2.ResourceRequirements(limits=limits))
    selector = run_v2.NodeSelector(accelerator=accelerator)
    template = run_v2.TaskTemplate(containers=[container], node_selector=selector, **task)
    return run_v2.Job(template=run_v2.ExecutionTemplate(template=template))


L4_TASK = {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}


@pytest.mark.parametrize(
    ("accelerator", "limits", "task", "fragment"),
    [
        ("nvidia-l4", {**L4_TASK, "cpu": "2", "memory": "8Gi"}, {}, "nvidia-l4"),
        ("nvidia-l4", {**L4_TASK, "nvidia.com/gpu": "2"}, {}, "nvidia.com/gpu must be 1"),
        ("nvidia-t4", L4_TASK, {}, "unsupported accelerator 'nvidia-t4'"),
        ("nvidia-rtx-pro-6000", {"cpu": "20", "memory": "32Gi", "nvidia.com/gpu": "1"}, {}, "nvidia-rtx-pro-6000"),
        ("nvidia-l4", L4_TASK, {"timeout": "5400s"}, "at most 3600s for a task with a GPU"),
    ],
    ids=["l4-with-2-vcpu", "two-gpus", "unknown-accelerator", "rtx-pro-6000-with-32gi", "task-over-1h"],
)
def test_bad_gpu_task_templates_are_refused(
    emulator: EmulatorHandle, accelerator: str, limits: dict[str, str], task: dict[str, Any], fragment: str
) -> None:
    jobs, _, _ = clients(emulator.url)
    with pytest.raises(gexc.BadRequest) as caught:
        jobs.create_job(parent=PARENT, job_id="bad-gpu", job=gpu_job(accelerator, limits, **task)).result()
    assert fragment in str(caught.value)


def test_a_region_without_the_gpu_refuses_the_job_and_a_fitting_one_keeps_the_fields(emulator: EmulatorHandle) -> None:
    jobs, _, _ = clients(emulator.url)
    with pytest.raises(gexc.BadRequest) as caught:
        jobs.create_job(
            parent=f"projects/{PROJECT}/locations/europe-north1", job_id="no-l4", job=gpu_job("nvidia-l4", L4_TASK)
        ).result()
    assert "not supported in region europe-north1" in str(caught.value)

    created = jobs.create_job(
        parent=f"projects/{PROJECT}/locations/europe-west4",
        job_id="l4",
        job=gpu_job("nvidia-l4", L4_TASK, gpu_zonal_redundancy_disabled=True),
    ).result()
    task = created.template.template
    assert (task.node_selector.accelerator, task.gpu_zonal_redundancy_disabled) == ("nvidia-l4", True)
    assert dict(task.containers[0].resources.limits)["nvidia.com/gpu"] == "1"
