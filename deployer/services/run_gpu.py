"""GPUs on Cloud Run, around the config's rules (config/run_gpu.py): the region check once the region is known, the
request fields, and the regional quotas a deploy draws from (doctor, and deploy's readiness checks, run these).

New projects hold no Cloud Run GPU quota in either mode (reference cloud-run-jobs-gpu-traffic.md section 2.4), and
one RTX PRO 6000 instance needs more regional memory than many projects start with (80 GiB against 40 GiB in
googlecodelabs/feedback#2311): both are caught here, before anything is uploaded, with the quota page to ask on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from deployer.config.checks import memory_mib
from deployer.config.run_gpu import (
    CPU_QUOTA_ID,
    GPU_STARTUP_TIMEOUT_S,
    MEMORY_QUOTA_ID,
    QUOTA_SERVICE,
    RunGpu,
    quota_console_url,
    quota_units,
    run_gpu_problems,
)
from deployer.errors import BadInput, DeployerError

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig, ServiceConfig
    from deployer.config.job import JobConfig
    from deployer.gcp import GoogleCloud


@dataclass(frozen=True)
class QuotaFinding:
    """One quota read: doctor's Finding, in its words (services/doctor.py makes it one)."""

    severity: Literal["ok", "warning", "error"]
    found: str
    fix: str = ""


def run_gpu_spec(config: ServiceConfig) -> dict[str, Any]:
    """The GPU fields of a ``ServiceSpec``: the accelerator, its mode and the startup probe a model load needs."""
    startup = config.startup_timeout
    if config.gpu is None:
        return {"startup_timeout_s": startup}
    return {
        "gpu_type": config.gpu.type,
        "gpu_zonal_redundancy": config.gpu.zonal_redundancy,
        "startup_timeout_s": startup if startup is not None else GPU_STARTUP_TIMEOUT_S,
    }


def check_gpu_region(config: ResolvedConfig, name: str, target: ServiceConfig | JobConfig) -> None:
    """BadInput (exit 2, nothing sent) when the resolved region does not offer the service's or job's GPU."""
    if target.gpu is None or config.region.value is None:
        return
    table, kind = ("jobs", "job") if hasattr(target, "most_tasks_at_once") else ("services", "service")
    shape = {"cpu": target.cpu, "memory": target.memory, "gpu": target.gpu, "region": config.region.value}
    timeout = target.timeout if kind == "job" else None  # a service's timeout is per request, not per task
    problems = run_gpu_problems(**shape, kind=kind, timeout_s=timeout)  # type: ignore[arg-type]
    if problems:
        where = str(config.config_file.name) if config.config_file else "the configuration"
        raise BadInput(
            "\n".join(f"{where}: {table}.{name}: {line} (region from {config.region.source})" for line in problems),
            "choose a region that offers the GPU, or another gpu.type",
        )


def quota_findings(
    cloud: GoogleCloud,
    project: str,
    region: str,
    max_instances: int,
    cpu: str,
    memory: str,
    gpu: RunGpu,
    bound: str = "max_instances",
) -> list[QuotaFinding]:
    """The GPU quota for this region and mode covers ``max_instances`` GPUs, and max_instances x the instance's CPU
    and memory fit the regional CPU and memory quotas; a finding each (an error with the quota page to ask on).
    ``bound`` names what sets the count: a job's is its tasks at once (JobConfig.most_tasks_at_once)."""
    offered = run_gpu_problems(cpu=cpu, memory=memory, gpu=gpu, region=region, kind="service")
    if offered:
        return [QuotaFinding("error", line, "choose a region that offers the GPU") for line in offered]
    gpu_quota = gpu.spec.quota_for(zonal_redundancy=gpu.zonal_redundancy)
    mode = "with zonal redundancy" if gpu.zonal_redundancy else "without zonal redundancy"
    needs = [
        (gpu_quota, quota_units(gpu, max_instances), f"{max_instances} {gpu.type} GPU(s) {mode}"),
        (CPU_QUOTA_ID, max_instances * int(cpu) * 1000, f"{max_instances} x {cpu} vCPU"),
        (MEMORY_QUOTA_ID, max_instances * memory_mib(memory) * 2**20, f"{max_instances} x {memory}"),
    ]
    findings: list[QuotaFinding] = []
    for quota_id, needed, what in needs:
        try:
            value = cloud.cloud_quotas.region_value(project, QUOTA_SERVICE, quota_id, region)
        except DeployerError as exc:
            findings.append(
                QuotaFinding(
                    "warning",
                    f"cannot read Cloud Run's {quota_id} quota in {region}: {exc.message}",
                    exc.hint or f"gcloud services enable cloudquotas.googleapis.com --project {project}",
                )
            )
            continue
        if value is None:
            findings.append(QuotaFinding("warning", f"{quota_id} in {region}: Google reports no value"))
            continue
        if 0 <= value < needed:
            first = " (new projects start at 0)" if quota_id == gpu_quota else ""
            fits = value * max_instances // needed if needed else 0
            fewer = f"; or lower {bound} to {fits}" if fits else ""
            findings.append(
                QuotaFinding(
                    "error",
                    f"Cloud Run quota {quota_id} in {region} is {value}{first}; {bound} = {max_instances} "
                    f"needs {needed} ({what})",
                    f"request a quota increase for {quota_id} in {region}: "
                    f"{quota_console_url(project, quota_id)}{fewer}",
                )
            )
    if not any(f.severity == "error" for f in findings):
        covered = f"{gpu.type} in {region} ({mode}): quota covers {bound} = {max_instances}"
        findings.append(QuotaFinding("ok", covered))
    return findings
