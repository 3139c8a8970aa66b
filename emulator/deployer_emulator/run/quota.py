"""Cloud Run's regional quotas on a service: max instances x one instance's CPU, memory and GPU must fit them.

"The maximum number of instances available for your service is the minimum of" the regional CPU, memory and GPU
quotas divided by one instance's (https://cloud.google.com/run/docs/configuring/max-instances-limits); Cloud Run
refuses a deploy beyond it with "Max instances must be set to N or fewer to set the requested total CPU. ... Quota
violated: CpuAllocPerProjectRegion requested: 60000 allowed: 20000" (googlecodelabs/feedback#1856, 400), and with no
GPU quota at all, "You do not have quota for using GPUs with zonal redundancy" (or "without"; reference
cloud-run-jobs-gpu-traffic.md section 6, item 4). The values come from cloudquotas.py.
"""

from __future__ import annotations

from typing import Any

from deployer_emulator import world
from deployer_emulator.cloudquotas import quota_value
from deployer_emulator.core import Emulator
from deployer_emulator.errors import ApiError
from deployer_emulator.run.base import _GPU_KEY, _parse_cpu, _parse_memory

# accelerator -> (quota id with zonal redundancy, without, quota units per GPU)
_GPU_QUOTAS = {
    "nvidia-l4": ("NvidiaL4GpuAllocPerProjectRegion", "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion", 1),
    "nvidia-rtx-pro-6000": (
        "NvidiaRtxPro6000GpuAllocPerProjectRegion",
        "NvidiaRtxPro6000GpuAllocNoZonalRedundancyPerProjectRegion",
        1000,
    ),
}


def check_run_quota(emulator: Emulator, project: str, location: str, template: dict[str, Any]) -> None:
    """Refuse a (normalized) RevisionTemplate whose max instances do not fit the project's regional quotas."""
    project_id = world.project_id_of(emulator, project) or project
    instances = int((template.get("scaling") or {}).get("maxInstanceCount") or 0)
    containers = template.get("containers") or []
    cpu = sum(_parse_cpu(str(c["resources"]["limits"]["cpu"])) or 0 for c in containers)
    memory = sum(_parse_memory(str(c["resources"]["limits"]["memory"])) or 0 for c in containers)
    accelerator = (template.get("nodeSelector") or {}).get("accelerator", "")
    if accelerator in _GPU_QUOTAS and any(_GPU_KEY in c["resources"]["limits"] for c in containers):
        zonal, no_zonal, units = _GPU_QUOTAS[accelerator]
        redundant = not template.get("gpuZonalRedundancyDisabled", False)
        quota_id = zonal if redundant else no_zonal
        allowed = quota_value(emulator, project_id, quota_id, location)
        mode = "with" if redundant else "without"
        if allowed <= 0:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"You do not have quota for using GPUs {mode} zonal redundancy. Learn more about GPU zonal redundancy "
                "quota at https://cloud.google.com/run/quotas#gpu.",
            )
        if instances * units > allowed:
            _refuse(allowed // units, "GPU", [(quota_id, instances * units, allowed)])
    violated = []
    for quota_id, per_instance in (("CpuAllocPerProjectRegion", int(cpu * 1000)), ("MemAllocPerProjectRegion", memory)):
        allowed = quota_value(emulator, project_id, quota_id, location)
        if instances * per_instance > allowed:
            violated.append((quota_id, instances * per_instance, allowed, allowed // max(per_instance, 1)))
    if violated:
        most = min(fit for *_, fit in violated)
        _refuse(most, "CPU" if violated[0][0].startswith("Cpu") else "memory", [v[:3] for v in violated])


def _refuse(most: int, what: str, violated: list[tuple[str, int, int]]) -> None:
    lines = "\n".join(
        f"{quota_id} requested: {requested} allowed: {allowed}" for quota_id, requested, allowed in violated
    )
    raise ApiError(
        "INVALID_ARGUMENT",
        f"spec.template.metadata.annotations[autoscaling.knative.dev/maxScale]: Max instances must be set to {most} "
        f"or fewer to set the requested total {what}.\nConsider running your workload in a region with greater "
        "capacity, or requesting an increase in quota for this region if you are seeing sustained usage near this "
        f"limit, see https://cloud.google.com/run/quotas.\n\nQuota violated:\n{lines}",
    )
