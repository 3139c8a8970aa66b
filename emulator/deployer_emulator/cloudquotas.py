"""Cloud Quotas v1: the values of Cloud Run's regional quotas, per project, as ``QuotaInfo`` documents.

Route (as google-cloud-quotas 0.6's REST transport calls it, ``cloudquotas_v1/.../transports/rest_base.py``):
  ``GET /v1/projects/{p}/locations/global/services/{service}/quotaInfos/{quota_id}``, answering a QuotaInfo with
  one ``dimensionsInfos[]`` entry per region that has its own value and one without dimensions for every other
  region (``cloudquotas_v1.QuotaInfo``, ``DimensionsInfo{dimensions, details{value}, applicableLocations}``).

Values: Cloud Run grants no GPU quota in either mode until it is requested (reference
cloud-run-jobs-gpu-traffic.md section 2.4), so every GPU quota is 0 unless a scenario (a project's ``quotas``) or
``PATCH /_emulator/quotas`` sets it; CPU and memory default to the baseline the max-instances page gives as its
example, 1000 vCPU and 2000 GiB (https://cloud.google.com/run/docs/configuring/max-instances-limits). Cloud Run's
own checks of a service against them are in run/quota.py.
"""

from __future__ import annotations

from typing import Any

from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import ApiError, not_found
from deployer_emulator.iam.enforcer import visible_project

QUOTA_VALUES = "cloudquotas.values"  # project id -> {quota id -> {region or "*" -> value}}
RUN_SERVICE = "run.googleapis.com"
# Cloud Run's quotas the emulator knows: quota id -> (metric, unit, display name, default value). Metric names from
# https://cloud.google.com/run/docs/configuring/max-instances-limits; ids and units as Cloud Run's refusals and
# QuotaInfo documents name them ("CpuAllocPerProjectRegion requested: 60000 allowed: 20000",
# googlecodelabs/feedback#1856; metric_unit "milli-vCPU").
RUN_QUOTAS: dict[str, tuple[str, str, str, int]] = {
    "CpuAllocPerProjectRegion": ("cpu_allocation", "milli-vCPU", "Total CPU allocation, per project per region", 10**6),
    "MemAllocPerProjectRegion": (
        "mem_allocation",
        "By",
        "Total memory allocation, per project per region",
        2000 * 2**30,
    ),
    "NvidiaL4GpuAllocPerProjectRegion": ("nvidia_l4_gpu_allocation", "1", "Total Nvidia L4 GPU allocation", 0),
    "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion": (
        "nvidia_l4_gpu_allocation_no_zonal_redundancy",
        "1",
        "Total Nvidia L4 GPU allocation without zonal redundancy",
        0,
    ),
    "NvidiaRtxPro6000GpuAllocPerProjectRegion": (
        "nvidia_rtx_pro_6000_gpu_allocation",
        "milli-GPU",
        "Total Nvidia RTX Pro 6000 GPU allocation",
        0,
    ),
    "NvidiaRtxPro6000GpuAllocNoZonalRedundancyPerProjectRegion": (
        "nvidia_rtx_pro_6000_gpu_allocation_no_zonal_redundancy",
        "milli-GPU",
        "Total Nvidia RTX Pro 6000 GPU allocation without zonal redundancy",
        0,
    ),
}


def quota_value(emulator: Emulator, project_id: str, quota_id: str, region: str) -> int:
    """The value of a Cloud Run quota for a project in a region."""
    with emulator.state.lock:
        values = emulator.state.table(QUOTA_VALUES).get(project_id, {}).get(quota_id, {})
        if region in values:
            return int(values[region])
        if "*" in values:
            return int(values["*"])
    return RUN_QUOTAS[quota_id][3]


def set_quota_values(emulator: Emulator, project_id: str, values: dict[str, dict[str, int]]) -> None:
    """Set quota values: ``{quota_id: {region or "*": value}}`` (a scenario's project ``quotas``, or the admin
    endpoint); an unknown quota id is refused, naming the known ones."""
    unknown = sorted(set(values) - set(RUN_QUOTAS))
    if unknown:
        raise ApiError("INVALID_ARGUMENT", f"unknown Cloud Run quota ids {unknown}; known: {sorted(RUN_QUOTAS)}")
    with emulator.mutation():
        table = emulator.state.table(QUOTA_VALUES).setdefault(project_id, {})
        for quota_id, regions in values.items():
            table.setdefault(quota_id, {}).update({region: int(value) for region, value in regions.items()})


def register(emulator: Emulator) -> None:
    router = emulator.router

    @router.route("GET", "/v1/projects/{project}/locations/global/services/{service}/quotaInfos/{quota_id}")
    def get_quota_info(req: Request, project: str, service: str, quota_id: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/global/services/{service}/quotaInfos/{quota_id}"
        found = visible_project(emulator, req, "cloudquotas.googleapis.com", "cloudquotas.quotas.get", project)
        if service != RUN_SERVICE or quota_id not in RUN_QUOTAS:
            raise not_found(f"QuotaInfo {name} not found.")  # unconfirmed wording
        project_id = str(found.get("projectId", project))
        metric, unit, display, default = RUN_QUOTAS[quota_id]
        with emulator.state.lock:
            own = dict(emulator.state.table(QUOTA_VALUES).get(project_id, {}).get(quota_id, {}))
        infos = [
            {"dimensions": {"region": region}, "details": {"value": str(value)}, "applicableLocations": [region]}
            for region, value in sorted(own.items())
            if region != "*"
        ]
        infos.append({"details": {"value": str(own.get("*", default))}})
        return {
            "name": name,
            "quotaId": quota_id,
            "metric": f"{RUN_SERVICE}/{metric}",
            "service": RUN_SERVICE,
            "isPrecise": True,
            "containerType": "PROJECT",
            "dimensions": ["region"],
            "metricDisplayName": display,
            "quotaDisplayName": f"{display}, per project per region",
            "metricUnit": unit,
            "dimensionsInfos": infos,
        }

    @router.route("PATCH", "/_emulator/quotas")
    def set_quotas(req: Request) -> dict[str, Any]:
        """``{"project": P, "quotas": {quota_id: {region or "*": value}}}``: what a quota request would grant."""
        doc = req.json()
        set_quota_values(emulator, str(doc["project"]), dict(doc["quotas"]))
        with emulator.state.lock:
            return dict(emulator.state.table(QUOTA_VALUES).get(str(doc["project"]), {}))
