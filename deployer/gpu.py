"""The GPU catalogue: which accelerator goes with which machine type, in what counts, under which quota.

Compute Engine attaches GPUs in two ways:
- N1 machine types take ``guestAccelerators`` (nvidia-tesla-t4 / -v100 / -p100 / -p4) in a few fixed counts;
- accelerator-optimized machine types (G2, A2, A3, A4) carry their GPUs in the machine type itself: the count is
  fixed by the machine type, and ``guestAccelerators`` must not be set.

Sources (checked 2026-11):
- accelerator types, machine types and counts: https://cloud.google.com/compute/docs/gpus and
  https://cloud.google.com/compute/docs/accelerator-optimized-machines
- where each is offered: https://cloud.google.com/compute/docs/gpus/gpu-regions-zones (at run time deployer asks
  ``aggregated/acceleratorTypes`` instead of trusting a table)
- regional quota metrics: https://cloud.google.com/compute/resource-usage#gpu_quota and the ``Quota.Metric`` enum of
  google-cloud-compute's ``types/compute.py`` (NVIDIA_T4_GPUS, NVIDIA_L4_GPUS, NVIDIA_A100_GPUS,
  NVIDIA_A100_80GB_GPUS, PREEMPTIBLE_NVIDIA_*_GPUS, the global GPUS_ALL_REGIONS). The H100 mega, H200 and B200
  metric names are not in that enum: Google counts newer families under per-family quotas too, so a metric that
  ``regions.get`` does not report is treated as "not checked" rather than as zero.

Everything here is pure: validation raises ``BadInput`` naming the valid choices, before anything is uploaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deployer.errors import BadInput

GPUS_ALL_REGIONS = "GPUS_ALL_REGIONS"

# Container-Optimized OS images are 10 GB (the cos-stable image's diskSizeGb), and Compute Engine refuses a boot disk
# smaller than its image. A GPU VM also holds the driver and its build toolchain, which `cos-extensions install gpu`
# downloads to /var/lib (about 2 GB), and CUDA images, which commonly unpack to 10 GB or more: below 30 GB such a VM
# fills its disk on the first pull. This floor is deployer's, from those sizes; it is not a Google rule.
MIN_BOOT_DISK_GB = 10
MIN_GPU_BOOT_DISK_GB = 30
DEFAULT_BOOT_DISK_GB = 20
DEFAULT_GPU_BOOT_DISK_GB = 50


@dataclass(frozen=True)
class Accelerator:
    """One accelerator type as Compute Engine names it, and how it is attached."""

    type: str  # the acceleratorType name, e.g. "nvidia-l4"
    display: str
    quota_metric: str  # the regional quota for on-demand VMs
    preemptible_quota_metric: str  # the regional quota spot (preemptible) VMs draw from
    series: str  # the machine series it works with: "n1", "g2", "a2", "a3", "a4"
    guest_counts: tuple[int, ...] = ()  # N1 only: the counts guestAccelerators may have

    @property
    def attached_as_guest(self) -> bool:
        return bool(self.guest_counts)

    def quota_metric_for(self, *, spot: bool) -> str:
        return self.preemptible_quota_metric if spot else self.quota_metric


ACCELERATORS: dict[str, Accelerator] = {
    accelerator.type: accelerator
    for accelerator in (
        # N1 + guest accelerators: https://cloud.google.com/compute/docs/gpus#n1-gpus
        Accelerator("nvidia-tesla-t4", "NVIDIA T4", "NVIDIA_T4_GPUS", "PREEMPTIBLE_NVIDIA_T4_GPUS", "n1", (1, 2, 4)),
        Accelerator(
            "nvidia-tesla-v100", "NVIDIA V100", "NVIDIA_V100_GPUS", "PREEMPTIBLE_NVIDIA_V100_GPUS", "n1", (1, 2, 4, 8)
        ),
        Accelerator(
            "nvidia-tesla-p100", "NVIDIA P100", "NVIDIA_P100_GPUS", "PREEMPTIBLE_NVIDIA_P100_GPUS", "n1", (1, 2, 4)
        ),
        Accelerator("nvidia-tesla-p4", "NVIDIA P4", "NVIDIA_P4_GPUS", "PREEMPTIBLE_NVIDIA_P4_GPUS", "n1", (1, 2, 4)),
        # Built into the machine type: https://cloud.google.com/compute/docs/accelerator-optimized-machines
        Accelerator("nvidia-l4", "NVIDIA L4", "NVIDIA_L4_GPUS", "PREEMPTIBLE_NVIDIA_L4_GPUS", "g2"),
        Accelerator("nvidia-tesla-a100", "NVIDIA A100 40GB", "NVIDIA_A100_GPUS", "PREEMPTIBLE_NVIDIA_A100_GPUS", "a2"),
        Accelerator(
            "nvidia-a100-80gb", "NVIDIA A100 80GB", "NVIDIA_A100_80GB_GPUS", "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS", "a2"
        ),
        Accelerator("nvidia-h100-80gb", "NVIDIA H100 80GB", "NVIDIA_H100_GPUS", "PREEMPTIBLE_NVIDIA_H100_GPUS", "a3"),
        # The three below: metric names by Google's pattern, not in the library's enum (see the module docstring).
        Accelerator(
            "nvidia-h100-mega-80gb",
            "NVIDIA H100 80GB Mega",
            "NVIDIA_H100_MEGA_GPUS",
            "PREEMPTIBLE_NVIDIA_H100_MEGA_GPUS",
            "a3",
        ),
        Accelerator("nvidia-h200-141gb", "NVIDIA H200", "NVIDIA_H200_GPUS", "PREEMPTIBLE_NVIDIA_H200_GPUS", "a3"),
        Accelerator("nvidia-b200", "NVIDIA B200", "NVIDIA_B200_GPUS", "PREEMPTIBLE_NVIDIA_B200_GPUS", "a4"),
    )
}

# Accelerator-optimized machine types: the accelerator and the count they come with.
# https://cloud.google.com/compute/docs/accelerator-optimized-machines (G2, A2 standard/ultra, A3 high/edge/mega/ultra,
# A4). G4 (RTX PRO 6000) and the Arm-based A4X are left out: their accelerator names are unconfirmed, and deployer
# builds linux/amd64 images.
BUILTIN_GPU_MACHINE_TYPES: dict[str, tuple[str, int]] = {
    "g2-standard-4": ("nvidia-l4", 1),
    "g2-standard-8": ("nvidia-l4", 1),
    "g2-standard-12": ("nvidia-l4", 1),
    "g2-standard-16": ("nvidia-l4", 1),
    "g2-standard-24": ("nvidia-l4", 2),
    "g2-standard-32": ("nvidia-l4", 1),
    "g2-standard-48": ("nvidia-l4", 4),
    "g2-standard-96": ("nvidia-l4", 8),
    "a2-highgpu-1g": ("nvidia-tesla-a100", 1),
    "a2-highgpu-2g": ("nvidia-tesla-a100", 2),
    "a2-highgpu-4g": ("nvidia-tesla-a100", 4),
    "a2-highgpu-8g": ("nvidia-tesla-a100", 8),
    "a2-megagpu-16g": ("nvidia-tesla-a100", 16),
    "a2-ultragpu-1g": ("nvidia-a100-80gb", 1),
    "a2-ultragpu-2g": ("nvidia-a100-80gb", 2),
    "a2-ultragpu-4g": ("nvidia-a100-80gb", 4),
    "a2-ultragpu-8g": ("nvidia-a100-80gb", 8),
    "a3-highgpu-1g": ("nvidia-h100-80gb", 1),
    "a3-highgpu-2g": ("nvidia-h100-80gb", 2),
    "a3-highgpu-4g": ("nvidia-h100-80gb", 4),
    "a3-highgpu-8g": ("nvidia-h100-80gb", 8),
    "a3-edgegpu-8g": ("nvidia-h100-80gb", 8),
    "a3-megagpu-8g": ("nvidia-h100-mega-80gb", 8),
    "a3-ultragpu-8g": ("nvidia-h200-141gb", 8),
    "a4-highgpu-8g": ("nvidia-b200", 8),
}

# Machine series that take only Hyperdisk boot disks (no pd-balanced):
# https://cloud.google.com/compute/docs/disks/hyperdisks#machine-type-support
_HYPERDISK_ONLY_SERIES = frozenset({"c4", "c4d", "n4", "a4", "x4", "m4", "h4d"})
_HYPERDISK_ONLY_PREFIXES = ("a3-ultragpu-",)
# Arm machine series: Container-Optimized OS has separate arm64 images there, and deployer builds linux/amd64.
_ARM_SERIES = ("t2a", "c4a", "a4x", "n4a")
# Accelerator-optimized series whose GPUs come with the machine type.
_BUILTIN_SERIES = ("g2", "a2", "a3", "a4")
# N1 shared-core machine types cannot take GPUs (https://cloud.google.com/compute/docs/gpus#n1-gpus).
_N1_SHARED_CORE = ("f1-micro", "g1-small")

_MACHINE_TYPE_RE = re.compile(r"^[a-z][a-z0-9]*-[a-z0-9-]+$")


@dataclass(frozen=True)
class GpuChoice:
    """The GPUs a VM gets: which, how many, and whether they go in ``guestAccelerators``."""

    accelerator: Accelerator
    count: int

    @property
    def type(self) -> str:
        return self.accelerator.type

    @property
    def attached_as_guest(self) -> bool:
        return self.accelerator.attached_as_guest

    def quota_metric(self, *, spot: bool) -> str:
        return self.accelerator.quota_metric_for(spot=spot)


def machine_series(machine_type: str) -> str:
    """``"g2"`` for ``g2-standard-8``; ``"e2"`` for ``e2-medium``."""
    return machine_type.split("-", 1)[0]


def check_machine_type_name(value: str) -> str:
    if not _MACHINE_TYPE_RE.fullmatch(value):
        raise ValueError('a machine type looks like "e2-standard-2", "n1-standard-8" or "g2-standard-8"')
    if machine_series(value) in _ARM_SERIES:
        raise ValueError(
            f"{value} is an Arm machine type; deployer builds linux/amd64 images, so use an x86 series "
            "such as e2, n2, n1 (with gpu) or g2"
        )
    return value


def boot_disk_type(machine_type: str) -> str:
    """The boot disk type the machine series supports: pd-balanced, or hyperdisk-balanced where that is the only one."""
    if machine_series(machine_type) in _HYPERDISK_ONLY_SERIES or machine_type.startswith(_HYPERDISK_ONLY_PREFIXES):
        return "hyperdisk-balanced"
    return "pd-balanced"


def _types_of_series(series: str) -> list[str]:
    return sorted(t for t, a in ACCELERATORS.items() if a.series == series)


def _machine_types_for(accelerator: str) -> list[str]:
    return [m for m, (a, _) in BUILTIN_GPU_MACHINE_TYPES.items() if a == accelerator]


def _machine_type_with(accelerator: str, count: int) -> str | None:
    return next((m for m, (a, c) in BUILTIN_GPU_MACHINE_TYPES.items() if a == accelerator and c == count), None)


def _counts_text(counts: tuple[int, ...] | list[int]) -> str:
    return ", ".join(str(c) for c in counts)


def gpu_problems(machine_type: str, gpu_type: str | None, gpu_count: int | None) -> list[str]:
    """Why this machine type and GPU do not go together; empty when they do. Each line names the valid choices."""
    series = machine_series(machine_type)
    builtin = BUILTIN_GPU_MACHINE_TYPES.get(machine_type)
    if gpu_type is not None and gpu_type not in ACCELERATORS:
        return [f'gpu.type = "{gpu_type}" is not a GPU deployer knows; allowed: {", ".join(sorted(ACCELERATORS))}']
    if gpu_count is not None and gpu_type is None:
        return ['gpu.count is set without gpu.type; set both, e.g. gpu = { type = "nvidia-tesla-t4", count = 1 }']
    if series in _BUILTIN_SERIES:
        if builtin is None:
            known = ", ".join(m for m in BUILTIN_GPU_MACHINE_TYPES if machine_series(m) == series)
            return [
                f'machine_type = "{machine_type}" is not a {series.upper()} machine type deployer knows; one of {known}'
            ]
        builtin_type, builtin_count = builtin
        if gpu_type is not None and gpu_type != builtin_type:
            accelerator = ACCELERATORS[gpu_type]
            if accelerator.attached_as_guest:
                elsewhere = f"{gpu_type} attaches to N1 machine types such as n1-standard-8"
            else:
                elsewhere = f"{gpu_type} comes with {', '.join(_machine_types_for(gpu_type))}"
            return [
                f'machine_type = "{machine_type}" comes with {builtin_count} {builtin_type} built in, so gpu.type must '
                f'be "{builtin_type}" (or leave gpu out); {elsewhere}'
            ]
        if gpu_count is not None and gpu_count != builtin_count:
            other = _machine_type_with(builtin_type, gpu_count)
            counts = sorted({c for a, c in BUILTIN_GPU_MACHINE_TYPES.values() if a == builtin_type})
            instead = (
                f'for {gpu_count} use machine_type = "{other}"'
                if other
                else f"{builtin_type} comes in counts of {_counts_text(counts)}"
            )
            return [
                f'gpu.count = {gpu_count} does not match machine_type = "{machine_type}", which comes with '
                f"{builtin_count} {builtin_type}; {instead}"
            ]
        return []
    if gpu_type is None:
        return []
    accelerator = ACCELERATORS[gpu_type]
    if not accelerator.attached_as_guest:
        suggestion = _machine_type_with(gpu_type, gpu_count or 1) or _machine_types_for(gpu_type)[0]
        return [
            f'gpu.type = "{gpu_type}" does not attach to machine_type = "{machine_type}": {gpu_type} comes built into '
            f"{accelerator.series.upper()} machine types ({', '.join(_machine_types_for(gpu_type))}); use "
            f'machine_type = "{suggestion}", or on N1 one of {", ".join(_types_of_series("n1"))}'
        ]
    if series != "n1" or machine_type in _N1_SHARED_CORE:
        return [
            f'gpu.type = "{gpu_type}" attaches only to N1 machine types (n1-standard-*, n1-highmem-*, n1-highcpu-*, '
            f'not f1-micro or g1-small), not to machine_type = "{machine_type}"; use e.g. machine_type = '
            f'"n1-standard-8", or a G2 machine type such as "g2-standard-8" for an nvidia-l4'
        ]
    count = 1 if gpu_count is None else gpu_count
    if count not in accelerator.guest_counts:
        return [
            f"gpu.count = {count} is not valid for {gpu_type} on N1: allowed counts are "
            f"{_counts_text(accelerator.guest_counts)}"
        ]
    return []


def resolve_gpu(machine_type: str, gpu_type: str | None, gpu_count: int | None) -> GpuChoice | None:
    """The GPUs of a VM: from ``gpu`` on N1, from the machine type on G2/A2/A3/A4; None for a CPU-only VM.

    Raises BadInput naming the valid choices when the combination is not one Compute Engine offers.
    """
    problems = gpu_problems(machine_type, gpu_type, gpu_count)
    if problems:
        raise BadInput("\n".join(problems), "see the GPU table in README.md (GPU VMs) for what goes together")
    builtin = BUILTIN_GPU_MACHINE_TYPES.get(machine_type)
    if builtin is not None:
        return GpuChoice(ACCELERATORS[builtin[0]], builtin[1])
    if gpu_type is None:
        return None
    return GpuChoice(ACCELERATORS[gpu_type], 1 if gpu_count is None else gpu_count)


def min_boot_disk_gb(*, gpu: bool) -> int:
    return MIN_GPU_BOOT_DISK_GB if gpu else MIN_BOOT_DISK_GB


def default_boot_disk_gb(*, gpu: bool) -> int:
    return DEFAULT_GPU_BOOT_DISK_GB if gpu else DEFAULT_BOOT_DISK_GB
