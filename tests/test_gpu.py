"""Pure tier: the GPU catalogue: which accelerator goes with which machine type, in what counts, under which quota."""

from __future__ import annotations

import pytest
from google.cloud import compute_v1

from deployer import gpu
from deployer.errors import BadInput, ExitCode


def test_l4_on_n1_is_refused_naming_the_g2_machine_types_and_the_n1_gpus() -> None:
    with pytest.raises(BadInput) as caught:
        gpu.resolve_gpu("n1-standard-8", "nvidia-l4", 1)
    message = caught.value.message
    assert caught.value.exit_code is ExitCode.BAD_INPUT
    assert 'machine_type = "g2-standard-4"' in message
    assert "g2-standard-8" in message
    assert "nvidia-tesla-t4" in message
    assert "nvidia-tesla-v100" in message


def test_t4_on_g2_is_refused_saying_g2_carries_an_l4() -> None:
    with pytest.raises(BadInput) as caught:
        gpu.resolve_gpu("g2-standard-8", "nvidia-tesla-t4", 1)
    assert 'gpu.type must be "nvidia-l4"' in caught.value.message
    assert "N1" in caught.value.message


@pytest.mark.parametrize(
    ("accelerator", "allowed"), [("nvidia-tesla-t4", "1, 2, 4"), ("nvidia-tesla-v100", "1, 2, 4, 8")]
)
def test_count_3_on_n1_is_refused_naming_the_valid_counts(accelerator: str, allowed: str) -> None:
    with pytest.raises(BadInput) as caught:
        gpu.resolve_gpu("n1-standard-8", accelerator, 3)
    assert f"allowed counts are {allowed}" in caught.value.message


def test_a_count_that_does_not_match_the_machine_type_names_the_machine_type_with_that_count() -> None:
    problems = gpu.gpu_problems("g2-standard-8", "nvidia-l4", 2)
    assert problems == [
        'gpu.count = 2 does not match machine_type = "g2-standard-8", which comes with 1 nvidia-l4; '
        'for 2 use machine_type = "g2-standard-24"'
    ]
    assert "counts of 1, 2, 4, 8" in gpu.gpu_problems("g2-standard-8", "nvidia-l4", 3)[0]


def test_gpus_on_a_machine_series_that_takes_none_and_unknown_types_are_refused() -> None:
    assert "attaches only to N1" in gpu.gpu_problems("e2-standard-4", "nvidia-tesla-t4", 1)[0]
    assert "not f1-micro or g1-small" in gpu.gpu_problems("f1-micro", "nvidia-tesla-t4", 1)[0]
    unknown = gpu.gpu_problems("n1-standard-8", "nvidia-tesla-k80", 1)[0]
    assert "nvidia-tesla-k80" in unknown
    assert "nvidia-l4" in unknown
    assert "is not a G2 machine type" in gpu.gpu_problems("g2-standard-7", None, None)[0]
    assert "gpu.count is set without gpu.type" in gpu.gpu_problems("n1-standard-8", None, 1)[0]


@pytest.mark.parametrize(
    ("machine_type", "accelerator", "count", "guest"),
    [
        ("g2-standard-8", "nvidia-l4", 1, False),
        ("g2-standard-24", "nvidia-l4", 2, False),
        ("g2-standard-96", "nvidia-l4", 8, False),
        ("a2-highgpu-4g", "nvidia-tesla-a100", 4, False),
        ("a2-ultragpu-1g", "nvidia-a100-80gb", 1, False),
        ("a3-highgpu-8g", "nvidia-h100-80gb", 8, False),
        ("a3-megagpu-8g", "nvidia-h100-mega-80gb", 8, False),
        ("a3-ultragpu-8g", "nvidia-h200-141gb", 8, False),
        ("a4-highgpu-8g", "nvidia-b200", 8, False),
    ],
)
def test_accelerator_optimized_machine_types_carry_their_gpus(
    machine_type: str, accelerator: str, count: int, guest: bool
) -> None:
    # With or without a gpu table that agrees, the machine type decides.
    for given in ((None, None), (accelerator, None), (accelerator, count)):
        choice = gpu.resolve_gpu(machine_type, *given)
        assert choice is not None
        assert (choice.type, choice.count, choice.attached_as_guest) == (accelerator, count, guest)


def test_n1_gpus_are_guest_accelerators_with_count_default_1() -> None:
    choice = gpu.resolve_gpu("n1-standard-8", "nvidia-tesla-t4", None)
    assert choice is not None
    assert (choice.type, choice.count, choice.attached_as_guest) == ("nvidia-tesla-t4", 1, True)
    assert gpu.resolve_gpu("n1-standard-8", None, None) is None
    assert gpu.resolve_gpu("e2-standard-2", None, None) is None


def test_quota_metrics_for_on_demand_and_spot() -> None:
    l4 = gpu.ACCELERATORS["nvidia-l4"]
    assert l4.quota_metric_for(spot=False) == "NVIDIA_L4_GPUS"
    assert l4.quota_metric_for(spot=True) == "PREEMPTIBLE_NVIDIA_L4_GPUS"
    assert gpu.ACCELERATORS["nvidia-tesla-t4"].quota_metric_for(spot=True) == "PREEMPTIBLE_NVIDIA_T4_GPUS"


def test_quota_metric_names_are_the_ones_the_compute_library_knows_where_it_lists_them() -> None:
    known = set(compute_v1.Quota.Metric.__members__)
    assert gpu.GPUS_ALL_REGIONS in known
    # Older families are in the library's enum; the newest (see gpu.py) are not, and are reported "not checked".
    for name in ("nvidia-tesla-t4", "nvidia-tesla-v100", "nvidia-tesla-p100", "nvidia-tesla-p4", "nvidia-l4"):
        accelerator = gpu.ACCELERATORS[name]
        assert accelerator.quota_metric in known
        assert accelerator.preemptible_quota_metric in known
    for name in ("nvidia-tesla-a100", "nvidia-a100-80gb"):
        assert gpu.ACCELERATORS[name].quota_metric in known


def test_every_builtin_machine_type_names_a_catalogued_accelerator() -> None:
    for machine_type, (accelerator, count) in gpu.BUILTIN_GPU_MACHINE_TYPES.items():
        assert accelerator in gpu.ACCELERATORS, machine_type
        assert not gpu.ACCELERATORS[accelerator].attached_as_guest
        assert count >= 1


def test_boot_disk_minimums_and_types() -> None:
    assert gpu.min_boot_disk_gb(gpu=False) == 10  # the cos-stable image is 10 GB
    assert gpu.min_boot_disk_gb(gpu=True) == 30
    assert gpu.default_boot_disk_gb(gpu=True) >= gpu.min_boot_disk_gb(gpu=True)
    assert gpu.boot_disk_type("g2-standard-8") == "pd-balanced"
    assert gpu.boot_disk_type("a3-ultragpu-8g") == "hyperdisk-balanced"
    assert gpu.boot_disk_type("a4-highgpu-8g") == "hyperdisk-balanced"
    assert gpu.boot_disk_type("a3-highgpu-8g") == "pd-balanced"


def test_machine_type_names_and_arm_series() -> None:
    assert gpu.check_machine_type_name("e2-standard-2") == "e2-standard-2"
    with pytest.raises(ValueError, match="looks like"):
        gpu.check_machine_type_name("E2 standard")
    with pytest.raises(ValueError, match="Arm machine type"):
        gpu.check_machine_type_name("t2a-standard-4")
