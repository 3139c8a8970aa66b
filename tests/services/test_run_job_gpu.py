"""Emulator tier: GPU jobs on Cloud Run through `deployer deploy`.

Bad GPU shapes on a [jobs.X] table stop with exit 2 before any mutating request (the emulator's request log); a
valid GPU job deploys, and the job run_v2.JobsClient reads back carries the TaskTemplate's GPU fields.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

from deployer_emulator.testing import EmulatorHandle
from tests.cli.test_deploy_cmd import invoke
from tests.services.test_run_gpu import BAD_GPU_SHAPES, L4_SHAPE, assert_refused_before_sending

IMAGE = "us-docker.pkg.dev/cloudrun/container/job:latest"
L4_JOB = L4_SHAPE.replace("max_instances = 2\n", "tasks = 4\nparallelism = 2\n")


def make_job_project(directory: Path, extra: str) -> str:
    project = f"jobgpu-{abs(hash(directory)) % 10**8}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "europe-west4"\n\n[jobs.train]\nimage = "{IMAGE}"\n{extra}'
    )
    return project


@pytest.mark.parametrize(
    ("extra", "region", "fragment"),
    [
        *BAD_GPU_SHAPES,
        pytest.param(
            L4_JOB,
            "europe-north1",
            'jobs.train: region "europe-north1" does not offer gpu.type = "nvidia-l4"',
            id="region-without-the-gpu",
        ),
        pytest.param(L4_JOB + 'timeout = "90m"\n', None, "timeout = 5400s", id="task-over-1h"),
    ],
)
def test_bad_gpu_jobs_exit_2_and_send_nothing(
    emulator: EmulatorHandle, tmp_path: Path, extra: str, region: str | None, fragment: str
) -> None:
    make_job_project(tmp_path / "app", extra)
    assert_refused_before_sending(emulator, tmp_path / "app", region, fragment, "train")


def test_no_gpu_quota_for_the_jobs_parallelism_stops_before_anything_is_sent(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    make_job_project(tmp_path / "app", L4_JOB)
    emulator.mark()

    result = invoke(emulator, "deploy", "train", "-C", str(tmp_path / "app"))

    assert result.exit_code != 0, result.output
    assert "NvidiaL4GpuAllocPerProjectRegion in europe-west4 is 0" in result.output
    assert "parallelism = 2 needs 2" in result.output
    assert emulator.mutating_requests() == []


def test_a_gpu_job_deploys_and_reads_back_with_the_gpu_fields(emulator: EmulatorHandle, tmp_path: Path) -> None:
    extra = L4_JOB.replace('gpu = { type = "nvidia-l4" }', 'gpu = { type = "nvidia-l4", zonal_redundancy = false }')
    project = make_job_project(tmp_path / "app", extra)
    emulator.set_quotas(project, {"NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion": {"europe-west4": 2}})

    result = invoke(emulator, "deploy", "train", "-C", str(tmp_path / "app"))

    assert result.exit_code == 0, result.output
    client = run_v2.JobsClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    task = client.get_job(name=f"projects/{project}/locations/europe-west4/jobs/train").template.template
    assert task.node_selector.accelerator == "nvidia-l4"
    assert task.gpu_zonal_redundancy_disabled is True
    assert dict(task.containers[0].resources.limits) == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}

    emulator.mark()
    again = invoke(emulator, "deploy", "train", "-C", str(tmp_path / "app"))
    assert again.exit_code == 0, again.output
    assert emulator.mutating_requests() == []
