"""Pure tier: ``[jobs.NAME]``: defaults, Cloud Run's limits, sweep templates, and the loader's messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.config import load_config
from deployer.config.job import JobConfig, sweep_fields
from deployer.errors import BadInput
from tests.config import validation_errors as _errors


def test_job_defaults_are_cloud_runs() -> None:
    job = JobConfig()
    assert (job.tasks, job.parallelism, job.max_retries, job.timeout) == (1, 0, 3, 600)


def test_task_timeout_goes_up_to_168_hours() -> None:
    assert JobConfig.model_validate({"timeout": "168h"}).timeout == 168 * 3600
    assert "between 1s and 604800s" in _errors(JobConfig, {"timeout": "169h"})[0]["msg"]


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"tasks": 0}, "greater than or equal to 1"),
        ({"tasks": 10_001}, "less than or equal to 10000"),
        ({"max_retries": 11}, "less than or equal to 10"),
        ({"tasks": 2, "parallelism": 3}, "parallelism = 3 is more than tasks = 2"),
        ({"env": {"CLOUD_RUN_TASK_INDEX": "1"}}, "reserved by Cloud Run"),
        ({"sweep_args": ["--lr", "{lr"]}, "not a valid template"),
    ],
)
def test_refused_values_say_what_is_allowed(table: dict[str, object], fragment: str) -> None:
    assert fragment in " ".join(e["msg"] for e in _errors(JobConfig, table))


def test_sweep_fields_in_order_of_use() -> None:
    assert sweep_fields(("--lr", "{lr}", "--bs", "{bs}", "--tag", "{lr}-{bs}")) == ["lr", "bs"]


def test_the_loader_names_file_field_and_value(project: Path) -> None:
    (project / "deployer.toml").write_text("[jobs.train]\ntasks = 20000\n\n[jobs.Bad_Name]\n")
    with pytest.raises(BadInput) as caught:
        load_config(project, environ={})
    message = caught.value.message
    assert "deployer.toml: jobs.train.tasks = 20000: must be at most 10000" in message
    assert "invalid job name" in message


def test_a_job_is_a_target_and_names_are_unique(project: Path) -> None:
    (project / "deployer.toml").write_text("[jobs.train]\ntasks = 2\n")
    config = load_config(project, environ={})
    assert config.target("train")[:2] == ("train", "job")
    (project / "deployer.toml").write_text("[jobs.api]\n[services.api]\n")
    with pytest.raises(BadInput) as caught:
        load_config(project, environ={})
    assert "unique across [services], [vms] and [jobs]" in caught.value.message


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"cpu": "2", "memory": "8Gi", "gpu": {"type": "nvidia-l4"}}, 'needs at least cpu = "4" and memory = "16Gi"'),
        ({"cpu": "4", "memory": "16Gi", "gpu": {"type": "nvidia-l4", "count": 2}}, "gpu.count = 2"),
        ({"cpu": "20", "memory": "32Gi", "gpu": {"type": "nvidia-rtx-pro-6000"}}, 'memory = "80Gi"'),
        ({"cpu": "4", "memory": "16Gi", "gpu": {"type": "nvidia-l4"}, "timeout": "2h"}, "at most 3600s (1h)"),
        ({"gpu": {"type": "nvidia-t4"}}, "nvidia-l4"),
    ],
    ids=["l4-with-2-vcpu", "two-gpus", "rtx-pro-6000-with-32gi", "task-over-1h", "unknown-type"],
)
def test_bad_gpu_job_shapes_say_the_fix(table: dict[str, object], fragment: str) -> None:
    assert fragment in " ".join(e["msg"] for e in _errors(JobConfig, table))


def test_a_gpu_job_fits_and_its_quota_bound_is_its_tasks_at_once() -> None:
    job = JobConfig.model_validate({"cpu": 4, "memory": "16Gi", "gpu": {"type": "nvidia-l4"}, "timeout": "1h"})
    assert job.gpu is not None
    assert job.gpu.type == "nvidia-l4"
    assert job.most_tasks_at_once == 1
    assert JobConfig.model_validate({"tasks": 8, "parallelism": 3}).most_tasks_at_once == 3
    assert JobConfig.model_validate({"tasks": 8}).most_tasks_at_once == 8  # 0: as many as Cloud Run can


def test_a_bad_gpu_job_exits_2_naming_file_and_field(project: Path) -> None:
    (project / "deployer.toml").write_text('[jobs.train]\ncpu = "2"\nmemory = "8Gi"\ngpu = { type = "nvidia-l4" }\n')
    with pytest.raises(BadInput) as caught:
        load_config(project, environ={})
    assert caught.value.exit_code == 2
    assert 'deployer.toml: jobs.train: gpu.type = "nvidia-l4" needs at least cpu = "4"' in caught.value.message
