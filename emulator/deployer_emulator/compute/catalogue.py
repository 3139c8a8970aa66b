"""The zones, GPUs, machine types and COS images (an emulator catalogue, not authoritative)."""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------------------------
# The catalogue (emulator catalogue, not authoritative: https://cloud.google.com/compute/docs/gpus/gpu-regions-zones)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accelerator:
    name: str
    description: str
    max_cards: int  # AcceleratorType.maximumCardsPerInstance
    quota_metric: str  # the regional quota it consumes; PREEMPTIBLE_<metric> for Spot VMs
    n1_counts: tuple[int, ...]  # counts an N1 VM may attach as guestAccelerators; () = only in its machine family


# https://cloud.google.com/compute/docs/gpus and https://cloud.google.com/compute/resource-usage#gpu_quota. The
# H100 Mega, H200 and B200 metric names are not in compute_v1's Quota.Metric enum: unconfirmed.
ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in (
        Accelerator("nvidia-tesla-t4", "NVIDIA T4", 4, "NVIDIA_T4_GPUS", (1, 2, 4)),
        Accelerator("nvidia-tesla-v100", "NVIDIA V100", 8, "NVIDIA_V100_GPUS", (1, 2, 4, 8)),
        Accelerator("nvidia-tesla-p100", "NVIDIA Tesla P100", 4, "NVIDIA_P100_GPUS", (1, 2, 4)),
        Accelerator("nvidia-tesla-p4", "NVIDIA Tesla P4", 4, "NVIDIA_P4_GPUS", (1, 2, 4)),
        Accelerator("nvidia-l4", "NVIDIA L4", 8, "NVIDIA_L4_GPUS", ()),
        Accelerator("nvidia-tesla-a100", "NVIDIA A100 40GB", 16, "NVIDIA_A100_GPUS", ()),
        Accelerator("nvidia-a100-80gb", "NVIDIA A100 80GB", 8, "NVIDIA_A100_80GB_GPUS", ()),
        Accelerator("nvidia-h100-80gb", "NVIDIA H100 80GB", 8, "NVIDIA_H100_GPUS", ()),
        Accelerator("nvidia-h100-mega-80gb", "NVIDIA H100 80GB MEGA", 8, "NVIDIA_H100_MEGA_GPUS", ()),
        Accelerator("nvidia-h200-141gb", "NVIDIA H200 141GB", 8, "NVIDIA_H200_GPUS", ()),
        Accelerator("nvidia-b200", "NVIDIA B200", 8, "NVIDIA_B200_GPUS", ()),
    )
}

_T4, _V100, _P100, _P4, _L4 = (
    "nvidia-tesla-t4",
    "nvidia-tesla-v100",
    "nvidia-tesla-p100",
    "nvidia-tesla-p4",
    "nvidia-l4",
)
_A100, _A100_80, _H100, _H100_MEGA = (
    "nvidia-tesla-a100",
    "nvidia-a100-80gb",
    "nvidia-h100-80gb",
    "nvidia-h100-mega-80gb",
)
_H200, _B200 = "nvidia-h200-141gb", "nvidia-b200"

# Zone -> the accelerators it offers (emulator catalogue, not authoritative).
ZONES: dict[str, frozenset[str]] = {
    zone: frozenset(gpus)
    for zone, gpus in {
        "us-central1-a": {_T4, _L4, _V100, _P4, _A100, _A100_80, _H100},
        "us-central1-b": {_T4, _L4, _V100, _A100, _H100, _H200, _B200},
        "us-central1-c": {_T4, _L4, _V100, _P100, _P4, _A100, _A100_80, _H100, _H100_MEGA},
        "us-central1-f": {_T4, _L4, _V100, _P100, _A100},
        "us-east1-b": {_L4, _P100},
        "us-east1-c": {_T4, _L4, _V100, _P100},
        "us-east1-d": {_T4, _L4},
        "us-east4-a": {_T4, _L4, _P4, _A100_80, _H100, _H100_MEGA},
        "us-east4-b": {_T4, _P4, _H100},
        "us-east4-c": {_T4, _L4, _P4, _A100_80, _H100, _H100_MEGA},
        "us-west1-a": {_T4, _L4, _V100, _P100, _H100},
        "us-west1-b": {_T4, _L4, _V100, _P100, _A100},
        "us-west1-c": {_L4},
        "us-west4-a": {_T4, _L4, _A100_80, _H100},
        "us-west4-b": {_T4, _A100},
        "us-west4-c": {_L4, _H100},
        "europe-west1-b": {_T4, _L4, _P100, _H200},
        "europe-west1-c": {_T4, _L4},
        "europe-west1-d": {_T4, _P100},
        "europe-west2-a": {_T4, _L4},
        "europe-west2-b": {_T4, _L4},
        "europe-west2-c": set(),
        "europe-west3-a": set(),
        "europe-west3-b": {_T4},
        "europe-west3-c": set(),
        "europe-west4-a": {_T4, _L4, _V100, _P100, _A100_80, _H100},
        "europe-west4-b": {_T4, _L4, _V100, _P4, _A100, _H100, _H100_MEGA, _B200},
        "europe-west4-c": {_T4, _L4, _V100, _P4, _H100, _H100_MEGA},
        "asia-east1-a": {_T4, _L4, _P100},
        "asia-east1-b": set(),
        "asia-east1-c": {_T4, _L4, _V100},
        "asia-northeast1-a": {_T4, _L4, _A100},
        "asia-northeast1-b": set(),
        "asia-northeast1-c": {_T4, _L4, _A100},
        "asia-south1-a": {_T4},
        "asia-south1-b": {_T4, _H200},
        "asia-south1-c": {_L4},
        "asia-southeast1-a": {_T4, _L4},
        "asia-southeast1-b": {_T4, _L4, _A100, _H100},
        "asia-southeast1-c": {_T4, _L4, _A100_80, _H100},
        "australia-southeast1-a": {_T4, _P4},
        "australia-southeast1-b": {_P4},
        "australia-southeast1-c": {_T4},
        "northamerica-northeast1-a": {_P4},
        "northamerica-northeast1-b": {_P4},
        "northamerica-northeast1-c": {_T4, _P4},
        "southamerica-east1-a": {_T4},
        "southamerica-east1-b": set(),
        "southamerica-east1-c": {_T4},
    }.items()
}


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


REGIONS: dict[str, list[str]] = {}
for _zone in ZONES:
    REGIONS.setdefault(region_of(_zone), []).append(_zone)

# The default auto-mode VPC's subnet per region (https://cloud.google.com/vpc/docs/subnets#ip-ranges).
DEFAULT_SUBNETS = {
    "us-central1": "10.128.0.0/20",
    "europe-west1": "10.132.0.0/20",
    "us-west1": "10.138.0.0/20",
    "asia-east1": "10.140.0.0/20",
    "us-east1": "10.142.0.0/20",
    "asia-northeast1": "10.146.0.0/20",
    "asia-southeast1": "10.148.0.0/20",
    "us-east4": "10.150.0.0/20",
    "australia-southeast1": "10.152.0.0/20",
    "europe-west2": "10.154.0.0/20",
    "europe-west3": "10.156.0.0/20",
    "southamerica-east1": "10.158.0.0/20",
    "asia-south1": "10.160.0.0/20",
    "northamerica-northeast1": "10.162.0.0/20",
    "europe-west4": "10.164.0.0/20",
    "us-west4": "10.182.0.0/20",
}
# External addresses come from the documentation ranges (RFC 5737): nothing here routes to a real host.
EXTERNAL_POOLS = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")


@dataclass(frozen=True)
class MachineShape:
    name: str
    cpus: int
    memory_mb: int
    description: str
    gpu: str | None = None  # the built-in accelerator (G2, A2, A3, A4)
    gpu_count: int = 0
    shared_cpu: bool = False

    @property
    def family(self) -> str:
        return self.name.split("-", 1)[0]


def _machine_shapes() -> dict[str, MachineShape]:
    shapes: list[MachineShape] = []
    for cpus in (1, 2, 4, 8, 16, 32, 64, 96):
        ram = cpus * 3.75
        plural = "s" if cpus > 1 else ""
        shapes.append(MachineShape(f"n1-standard-{cpus}", cpus, cpus * 3840, f"{cpus} vCPU{plural}, {ram:g} GB RAM"))
    for cpus in (2, 4, 8, 16, 32, 64, 96):
        shapes.append(MachineShape(f"n1-highmem-{cpus}", cpus, cpus * 6656, f"{cpus} vCPUs, {cpus * 6.5:g} GB RAM"))
    shapes += [
        MachineShape(
            "e2-micro", 2, 1024, "Efficient Instance, 2 vCPU (1/8 shared physical core) and 1 GB RAM", None, 0, True
        ),
        MachineShape(
            "e2-small", 2, 2048, "Efficient Instance, 2 vCPU (1/4 shared physical core) and 2 GB RAM", None, 0, True
        ),
        MachineShape(
            "e2-medium", 2, 4096, "Efficient Instance, 2 vCPU (1/2 shared physical core) and 4 GB RAM", None, 0, True
        ),
    ]
    for cpus in (2, 4, 8, 16, 32):
        shapes.append(
            MachineShape(
                f"e2-standard-{cpus}", cpus, cpus * 4096, f"Efficient Instance, {cpus} vCPUs, {cpus * 4} GB RAM"
            )
        )
    for cpus in (2, 4, 8, 16):
        shapes.append(
            MachineShape(
                f"e2-highmem-{cpus}", cpus, cpus * 8192, f"Efficient Instance, {cpus} vCPUs, {cpus * 8} GB RAM"
            )
        )
    # https://cloud.google.com/compute/docs/accelerator-optimized-machines: (name, vCPUs, GB, GPUs).
    for name, cpus, gb, count in (
        ("g2-standard-4", 4, 16, 1),
        ("g2-standard-8", 8, 32, 1),
        ("g2-standard-12", 12, 48, 1),
        ("g2-standard-16", 16, 64, 1),
        ("g2-standard-24", 24, 96, 2),
        ("g2-standard-32", 32, 128, 1),
        ("g2-standard-48", 48, 192, 4),
        ("g2-standard-96", 96, 384, 8),
    ):
        gpus = f"{count} NVIDIA L4 GPU{'s' if count > 1 else ''}"
        shapes.append(
            MachineShape(name, cpus, gb * 1024, f"Accelerator Optimized: {gpus}, {cpus} vCPUs, {gb}GB RAM", _L4, count)
        )
    for name, cpus, gb, count, gpu in (
        ("a2-highgpu-1g", 12, 85, 1, _A100),
        ("a2-highgpu-2g", 24, 170, 2, _A100),
        ("a2-highgpu-4g", 48, 340, 4, _A100),
        ("a2-highgpu-8g", 96, 680, 8, _A100),
        ("a2-megagpu-16g", 96, 1360, 16, _A100),
        ("a2-ultragpu-1g", 12, 170, 1, _A100_80),
        ("a2-ultragpu-2g", 24, 340, 2, _A100_80),
        ("a2-ultragpu-4g", 48, 680, 4, _A100_80),
        ("a2-ultragpu-8g", 96, 1360, 8, _A100_80),
        ("a3-highgpu-1g", 26, 234, 1, _H100),
        ("a3-highgpu-2g", 52, 468, 2, _H100),
        ("a3-highgpu-4g", 104, 936, 4, _H100),
        ("a3-highgpu-8g", 208, 1872, 8, _H100),
        ("a3-edgegpu-8g", 208, 1872, 8, _H100),
        ("a3-megagpu-8g", 208, 1872, 8, _H100_MEGA),
        ("a3-ultragpu-8g", 224, 2952, 8, _H200),
        ("a4-highgpu-8g", 224, 3968, 8, _B200),
    ):
        label = ACCELERATORS[gpu].description
        description = f"Accelerator Optimized: {count} {label} GPU{'s' if count > 1 else ''}, {cpus} vCPUs, {gb}GB RAM"
        shapes.append(MachineShape(name, cpus, gb * 1024, description, gpu, count))
    return {shape.name: shape for shape in shapes}


MACHINE_TYPES = _machine_shapes()
CPU_PLATFORM = {
    "n1": "Intel Skylake",
    "e2": "Intel Broadwell",
    "g2": "Intel Cascade Lake",
    "a2": "Intel Cascade Lake",
    "a3": "Intel Sapphire Rapids",
    "a4": "Intel Emerald Rapids",
}
# The regional CPU quota each family draws on (https://cloud.google.com/compute/resource-usage#cpu_quota; G2, A3 and
# A4 on CPUS is unconfirmed).
CPU_METRIC = {"a2": "A2_CPUS"}
# Disk types each family can boot from (the machine series pages, https://cloud.google.com/compute/docs/machine-resource;
# not authoritative). The API's default boot disk type is pd-standard, which G2, A3 and A4 do not support.
HYPERDISKS = {"hyperdisk-balanced", "hyperdisk-extreme", "hyperdisk-ml", "hyperdisk-throughput"}
DISK_TYPES = {"pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", *HYPERDISKS}
FAMILY_DISKS = {
    "n1": {"pd-standard", "pd-balanced", "pd-ssd"},
    "e2": {"pd-standard", "pd-balanced", "pd-ssd"},
    "g2": {"pd-balanced", "pd-ssd", "hyperdisk-ml", "hyperdisk-throughput"},
    "a2": {"pd-standard", "pd-balanced", "pd-ssd"},
    "a3": {"pd-balanced", "pd-ssd", *HYPERDISKS},
    "a4": set(HYPERDISKS),
    "a3-ultragpu": set(HYPERDISKS),  # https://cloud.google.com/compute/docs/disks/hyperdisks#machine-type-support
}
# How Compute names a family in its "InstanceTaxonomies are not compatible" answer (seen for G2,
# https://github.com/skypilot-org/skypilot/issues/3933; A3/A4 by analogy, unconfirmed).
TAXONOMY = {
    "g2": ("GRAPHICS_OPTIMIZED", "GEN_2"),
    "a3": ("ACCELERATOR_OPTIMIZED", "GEN_3"),
    "a4": ("ACCELERATOR_OPTIMIZED", "GEN_4"),
}


def machine_types_in(zone: str) -> list[MachineShape]:
    """N1 and E2 everywhere; an accelerator-optimized type where the zone offers its GPU."""
    offered = ZONES.get(zone, frozenset())
    return [m for m in MACHINE_TYPES.values() if m.gpu is None or m.gpu in offered]


@dataclass(frozen=True)
class CosImage:
    name: str
    family: str
    version: str  # milestone-build, e.g. 117-18613.164.4


# Container-Optimized OS families in cos-cloud (https://cloud.google.com/container-optimized-os/docs/release-notes;
# the versions are the emulator's, not the current ones).
COS_IMAGES = (
    CosImage("cos-stable-117-18613-164-4", "cos-stable", "117-18613.164.4"),
    CosImage("cos-117-18613-164-4", "cos-117-lts", "117-18613.164.4"),
    CosImage("cos-beta-121-18867-0-50", "cos-beta", "121-18867.0.50"),
    CosImage("cos-dev-125-19090-0-0", "cos-dev", "125-19090.0.0"),
)
COS_PROJECT = "cos-cloud"
COS_IMAGE_GB = 10


def find_image(project: str, *, family: str | None = None, name: str | None = None) -> CosImage | None:
    if project != COS_PROJECT:
        return None
    for image in COS_IMAGES:
        if (family is not None and image.family == family) or (name is not None and image.name == name):
            return image
    return None
