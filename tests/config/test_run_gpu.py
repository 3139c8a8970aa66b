"""Pure tier: the GPU rules of a Cloud Run service or job (config/run_gpu.py), and how deployer.toml reports them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.config import ServiceConfig, load_config
from deployer.config.run_gpu import (
    GPU_JOB_MAX_TIMEOUT_S,
    RUN_GPU_TYPES,
    RunGpu,
    normalize_run_cpu,
    normalize_run_memory,
    quota_console_url,
    quota_units,
    run_gpu_problems,
)
from deployer.errors import BadInput, ExitCode

L4 = RunGpu(type="nvidia-l4")
RTX = RunGpu(type="nvidia-rtx-pro-6000")


def problems(cpu: str, memory: str, gpu: RunGpu | None, region: str | None = None, **extra: object) -> list[str]:
    return run_gpu_problems(cpu=cpu, memory=memory, gpu=gpu, region=region, kind="service", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cpu", "memory", "gpu", "ok"),
    [
        ("4", "16Gi", L4, True),
        ("8", "32Gi", L4, True),
        ("2", "16Gi", L4, False),
        ("4", "8Gi", L4, False),
        ("20", "80Gi", RTX, True),
        ("20", "32Gi", RTX, False),
        ("8", "80Gi", RTX, False),
    ],
)
def test_each_gpu_has_its_minimum_shape(cpu: str, memory: str, gpu: RunGpu, ok: bool) -> None:
    found = problems(cpu, memory, gpu)
    assert (found == []) is ok
    if not ok:
        assert f'needs at least cpu = "{gpu.spec.min_cpu}"' in found[0]


def test_one_gpu_per_instance() -> None:
    (found,) = problems("4", "16Gi", RunGpu(type="nvidia-l4", count=2))
    assert "gpu.count = 2" in found
    assert "exactly one GPU" in found


def test_the_region_must_offer_the_gpu_and_the_message_names_where_it_is() -> None:
    assert problems("4", "16Gi", L4, "europe-west1") == []
    assert problems("4", "16Gi", L4, "asia-south1") == []  # by invitation, still offered
    (found,) = problems("20", "80Gi", RTX, "europe-west1")
    assert 'region "europe-west1" does not offer gpu.type = "nvidia-rtx-pro-6000"' in found
    assert "us-central1" in found
    assert "europe-west1 offers nvidia-l4" in found


def test_gpu_job_tasks_time_out_within_an_hour() -> None:
    job = {"cpu": "4", "memory": "16Gi", "gpu": L4, "region": "us-central1", "kind": "job"}
    assert run_gpu_problems(**job, timeout_s=GPU_JOB_MAX_TIMEOUT_S) == []  # type: ignore[arg-type]
    (found,) = run_gpu_problems(**job, timeout_s=7200)  # type: ignore[arg-type]
    assert "timeout = 7200s" in found
    assert '"1h" or less' in found


def test_more_than_8_vcpu_or_32gi_needs_an_rtx_pro_6000() -> None:
    (found,) = problems("20", "80Gi", None)
    assert "without a GPU Cloud Run allows at most 8 vCPU and 32Gi" in found
    assert normalize_run_cpu(20) == "20"
    assert normalize_run_cpu("4") == "4"
    assert normalize_run_memory("96Gi") == "96Gi"
    with pytest.raises(ValueError, match="whole number from 20"):
        normalize_run_cpu(12)


def test_quota_units_and_the_page_to_ask_on() -> None:
    assert quota_units(L4, 3) == 3
    assert quota_units(RTX, 3) == 3000  # the RTX PRO 6000 quota counts milli-GPUs
    url = quota_console_url("my-proj", RUN_GPU_TYPES["nvidia-l4"].quota_id_no_zonal_redundancy)
    assert url.endswith(
        "project=my-proj&service=run.googleapis.com&quotaId=NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion"
    )


def test_zonal_redundancy_picks_the_quota() -> None:
    assert L4.spec.quota_for(zonal_redundancy=True) == "NvidiaL4GpuAllocPerProjectRegion"
    no_zonal = RunGpu(type="nvidia-l4", zonal_redundancy=False)
    assert no_zonal.spec.quota_for(zonal_redundancy=no_zonal.zonal_redundancy).endswith(
        "NoZonalRedundancyPerProjectRegion"
    )


def test_the_loader_names_the_file_the_field_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "deployer.toml").write_text(
        'project = "my-proj"\nregion = "us-central1"\n[services.api]\ncpu = "2"\ngpu = { type = "nvidia-l4" }\n'
    )
    with pytest.raises(BadInput) as caught:
        load_config(tmp_path, environ={})
    assert caught.value.exit_code is ExitCode.BAD_INPUT
    assert 'deployer.toml: services.api: gpu.type = "nvidia-l4" needs at least cpu = "4"' in caught.value.message


def test_an_unknown_gpu_type_lists_the_two_cloud_run_offers(tmp_path: Path) -> None:
    (tmp_path / "deployer.toml").write_text('[services.api]\ngpu = { type = "nvidia-t4" }\n')
    with pytest.raises(BadInput) as caught:
        load_config(tmp_path, environ={})
    assert "nvidia-l4" in caught.value.message
    assert "nvidia-rtx-pro-6000" in caught.value.message


def test_a_gpu_service_validates_with_a_startup_timeout_override() -> None:
    service = ServiceConfig.model_validate(
        {"cpu": 4, "memory": "16Gi", "gpu": {"type": "nvidia-l4"}, "startup_timeout": "10m"}
    )
    assert service.startup_timeout == 600
