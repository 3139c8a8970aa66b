"""``gpu = { type = "nvidia-l4" }`` on a Cloud Run service (and, with the same model and check, a job).

Google's rules, each checked before anything is uploaded (``run_gpu_problems``):
- the GPU types and their minimum shape: https://cloud.google.com/run/docs/configuring/services/gpu and
  .../jobs/gpu ("For L4 GPUs, you must use a minimum of 4 CPU and 16 GiB of memory"; "For NVIDIA RTX PRO 6000
  Blackwell GPU, you must use a minimum of 20 CPU and 80 GiB of memory"; "You can configure one GPU per Cloud Run
  instance"). No maximum above the minimum is documented for RTX PRO 6000: deployer leaves it to Cloud Run.
- services need instance-based billing (``cpu_idle = false``): same pages, "You must use instance-based billing";
- "For tasks using GPUs, the maximum available timeout is 1 hour" (https://cloud.google.com/run/docs/configuring/task-timeout);
- the regions (``RUN_GPU_REGIONS``): the newest page copy the reference found, the worker-pools GPU page
  (docs.cloud.google.com/run/docs/configuring/workerpools/gpu, ../shared/reference/cloud-run-jobs-gpu-traffic.md
  section 2.5); the services and jobs pages list the same L4 regions.
- the regional quotas a GPU service draws from, by Cloud Quotas ``quotaId`` (``RunGpuType.quota_id``): "the maximum
  number of instances ... is the minimum of" the regional CPU, memory and GPU quotas divided by one instance's
  (https://cloud.google.com/run/docs/configuring/max-instances-limits, which names the metrics
  run.googleapis.com/cpu_allocation, mem_allocation and nvidia_l4_gpu_allocation[_no_zonal_redundancy]). The quota
  ids (CpuAllocPerProjectRegion in milli-vCPU, MemAllocPerProjectRegion in bytes, NvidiaL4Gpu...PerProjectRegion)
  are the ones Cloud Run's own refusals name ("Quota violated: CpuAllocPerProjectRegion requested: 60000 allowed:
  20000", https://github.com/googlecodelabs/feedback/issues/1856). The RTX PRO 6000 quota counts milli-GPUs
  (reference section 2.4, secondary: quota tools divide it by 1000).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt

from deployer.config.checks import CPU_VALUES, MEMORY_RE, memory_mib, normalize_cpu, normalize_memory, quoted

GpuKind = Literal["service", "job"]
GPU_JOB_MAX_TIMEOUT_S = 3600
CPU_QUOTA_ID = "CpuAllocPerProjectRegion"  # milli-vCPU
MEMORY_QUOTA_ID = "MemAllocPerProjectRegion"  # bytes
QUOTA_SERVICE = "run.googleapis.com"
# A model that loads for minutes must not be killed by the default probe (one TCP check within 240 s): GPU services
# get this much time to open their port, overridable with startup_timeout. Google's own RTX PRO 6000 example allows
# 1800 s (failureThreshold 1800 x periodSeconds 1; reference section 2.6).
GPU_STARTUP_TIMEOUT_S = 1800


@dataclass(frozen=True)
class RunGpuType:
    """One GPU Cloud Run attaches, its minimum instance shape, its regions and its regional quotas."""

    type: str
    display: str
    min_cpu: int
    min_memory_mib: int
    regions: tuple[str, ...]
    invitation_regions: tuple[str, ...]  # offered only to projects Google has invited
    quota_id: str  # with zonal redundancy (the default)
    quota_id_no_zonal_redundancy: str
    quota_units_per_gpu: int = 1

    def quota_for(self, *, zonal_redundancy: bool) -> str:
        return self.quota_id if zonal_redundancy else self.quota_id_no_zonal_redundancy


RUN_GPU_TYPES: dict[str, RunGpuType] = {
    gpu.type: gpu
    for gpu in (
        RunGpuType(
            "nvidia-l4",
            "NVIDIA L4 (24 GB)",
            4,
            16 * 1024,
            ("asia-southeast1", "europe-west1", "europe-west4", "us-central1", "us-east4"),
            ("asia-south1",),
            "NvidiaL4GpuAllocPerProjectRegion",
            "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion",
        ),
        RunGpuType(
            "nvidia-rtx-pro-6000",
            "NVIDIA RTX PRO 6000 Blackwell (96 GB)",
            20,
            80 * 1024,
            ("asia-southeast1", "europe-west4", "us-central1"),
            ("asia-south2",),
            "NvidiaRtxPro6000GpuAllocPerProjectRegion",
            "NvidiaRtxPro6000GpuAllocNoZonalRedundancyPerProjectRegion",
            quota_units_per_gpu=1000,
        ),
    )
}
RunGpuName = Literal["nvidia-l4", "nvidia-rtx-pro-6000"]


class RunGpu(BaseModel):
    """``gpu = { type = "nvidia-l4" }``: one GPU per instance; ``zonal_redundancy = false`` is cheaper, with
    best-effort failover, and draws from its own quota."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: RunGpuName
    count: StrictInt = 1
    zonal_redundancy: StrictBool = True

    @property
    def spec(self) -> RunGpuType:
        return RUN_GPU_TYPES[self.type]


def _regions_text(gpu: RunGpuType) -> str:
    invited = ", ".join(f"{r} (by invitation)" for r in gpu.invitation_regions)
    return ", ".join(gpu.regions) + (f", {invited}" if invited else "")


def run_gpu_problems(
    *,
    cpu: str,
    memory: str,
    gpu: RunGpu | None,
    region: str | None,
    kind: GpuKind,
    timeout_s: int | None = None,
    max_instances: int | None = None,
    zonal_redundancy: bool | None = None,
) -> list[str]:
    """Every rule Google sets for a GPU on a Cloud Run ``kind`` of this shape, as lines naming the field, the value,
    what is allowed and the fix; [] when it fits. ``region`` None skips the region rule (the region is resolved
    later than the file is read); ``timeout_s`` is a job task's timeout."""
    cpus, mib = int(cpu), memory_mib(memory)
    if gpu is None:
        return _cpu_only_problems(cpus, mib, memory)
    spec = gpu.spec
    problems: list[str] = []
    if gpu.count != 1:
        problems.append(
            f"gpu.count = {gpu.count}: Cloud Run attaches exactly one GPU to an instance; set gpu.count = 1 (or leave "
            "it out) and raise max_instances for more GPUs in parallel"
        )
    if cpus < spec.min_cpu or mib < spec.min_memory_mib:
        problems.append(
            f'gpu.type = "{spec.type}" needs at least cpu = "{spec.min_cpu}" and memory = '
            f'"{spec.min_memory_mib // 1024}Gi" (here cpu = "{cpu}", memory = "{memory}"); set them at least that high'
        )
    if region is not None and region not in (*spec.regions, *spec.invitation_regions):
        others = [name for name, other in RUN_GPU_TYPES.items() if region in other.regions and name != spec.type]
        elsewhere = f"; {region} offers {', '.join(others)}" if others else ""
        problems.append(
            f'region {quoted(region)} does not offer gpu.type = "{spec.type}" on Cloud Run: it is offered in '
            f"{_regions_text(spec)}{elsewhere}; deploy to one of those regions (region = ... or --region)"
        )
    if kind == "job" and timeout_s is not None and timeout_s > GPU_JOB_MAX_TIMEOUT_S:
        problems.append(
            f"timeout = {timeout_s}s: a Cloud Run job task with a GPU may run at most {GPU_JOB_MAX_TIMEOUT_S}s (1h); "
            'set timeout = "1h" or less and split the work over tasks'
        )
    if max_instances is not None and max_instances < 1:
        problems.append(f"max_instances = {max_instances}: a GPU {kind} needs at least 1 instance")
    del zonal_redundancy  # any value is allowed; the quota it draws from is checked against the project
    return problems


def _cpu_only_problems(cpus: int, mib: int, memory: str) -> list[str]:
    """Shapes only an RTX PRO 6000 instance may have: above 8 vCPU or 32 GiB without it is refused."""
    rtx = RUN_GPU_TYPES["nvidia-rtx-pro-6000"]
    if cpus > 8 or mib > 32 * 1024:
        return [
            f'cpu = "{cpus}", memory = "{memory}": without a GPU Cloud Run allows at most 8 vCPU and 32Gi; more is '
            f'for gpu = {{ type = "{rtx.type}" }} (at least {rtx.min_cpu} vCPU and {rtx.min_memory_mib // 1024}Gi)'
        ]
    return []


def quota_units(gpu: RunGpu, instances: int) -> int:
    """How much of the GPU quota ``instances`` instances take, in the quota's own unit."""
    return instances * gpu.spec.quota_units_per_gpu


def quota_console_url(project: str, quota_id: str) -> str:
    """Where a quota increase for ``quota_id`` (of Cloud Run) is requested."""
    return (
        f"https://console.cloud.google.com/iam-admin/quotas?project={project}"
        f"&service={QUOTA_SERVICE}&quotaId={quota_id}"
    )


def billing_note(gpu: RunGpu | None) -> str:
    """What the plan says about how a service is billed."""
    if gpu is None:
        return "request-based billing (CPU only while a request is handled)"
    return (
        f"{gpu.spec.display}: instance-based billing (CPU and GPU billed for the whole life of each instance, "
        "min_instances billed even when idle)"
    )


def normalize_run_cpu(value: object) -> str:
    """A service's or job's ``cpu``: Cloud Run's 1, 2, 4, 6 or 8, or, for an RTX PRO 6000 instance, a whole number
    from 20 (checked against the GPU by ``run_gpu_problems``)."""
    try:
        return normalize_cpu(value)
    except ValueError:
        least = RUN_GPU_TYPES["nvidia-rtx-pro-6000"].min_cpu
        text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if text.isdigit() and int(text) >= least:
            return str(int(text))
        raise ValueError(
            f'must be one of {", ".join(CPU_VALUES)} (a number or a string; "1000m"-style millicpu also works), or '
            f"a whole number from {least} with an nvidia-rtx-pro-6000 GPU"
        ) from None


def normalize_run_memory(value: object) -> str:
    """A service's or job's ``memory``: 512Mi to 32Gi, or more for an RTX PRO 6000 instance (whole Gi)."""
    try:
        return normalize_memory(value)
    except ValueError:
        text = value.strip() if isinstance(value, str) else ""
        if MEMORY_RE.fullmatch(text) and memory_mib(text) > 32 * 1024 and memory_mib(text) % 1024 == 0:
            return f"{memory_mib(text) // 1024}Gi"
        raise ValueError(
            'must be a memory limit like "512Mi" or "2Gi" (a whole number of Mi or Gi) from 512Mi to 32Gi, or more '
            "(in Gi) with an nvidia-rtx-pro-6000 GPU"
        ) from None
