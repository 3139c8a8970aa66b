"""Quota: what running and stopped instances consume, the limits, and the capacity of zones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer_emulator.compute.base import FIREWALLS, INSTANCE_FACTS, INSTANCES, EngineBase
from deployer_emulator.compute.catalogue import ACCELERATORS, CPU_METRIC, HYPERDISKS, MachineShape, region_of
from deployer_emulator.errors import ApiError

_CONSUMING = ("PROVISIONING", "STAGING", "RUNNING", "STOPPING", "REPAIRING")


@dataclass(frozen=True)
class _Use:
    scope: str  # a region, or "global"
    metric: str
    amount: float


# ---------------------------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------------------------

_REGION_GPU_METRICS = sorted({a.quota_metric for a in ACCELERATORS.values()})
_REGION_METRICS = (
    "CPUS",
    "A2_CPUS",
    "PREEMPTIBLE_CPUS",
    "DISKS_TOTAL_GB",
    "SSD_TOTAL_GB",
    "INSTANCES",
    "IN_USE_ADDRESSES",
    "STATIC_ADDRESSES",
    *_REGION_GPU_METRICS,
    *(f"PREEMPTIBLE_{m}" for m in _REGION_GPU_METRICS),
)
_GLOBAL_METRICS = (
    "CPUS_ALL_REGIONS",
    "GPUS_ALL_REGIONS",
    "FIREWALLS",
    "NETWORKS",
    "SUBNETWORKS",
    "IMAGES",
    "SNAPSHOTS",
    "INSTANCE_TEMPLATES",
    "ROUTES",
)
# Open world: generous limits, so that a first try works; tests lower them through compute_quota_overrides.
_DEFAULT_LIMITS = {
    "CPUS": 200.0,
    "A2_CPUS": 200.0,
    "PREEMPTIBLE_CPUS": 200.0,
    "DISKS_TOTAL_GB": 20480.0,
    "SSD_TOTAL_GB": 10240.0,
    "INSTANCES": 1000.0,
    "IN_USE_ADDRESSES": 64.0,
    "STATIC_ADDRESSES": 8.0,
    "CPUS_ALL_REGIONS": 400.0,
    "GPUS_ALL_REGIONS": 16.0,
    "FIREWALLS": 200.0,
    "NETWORKS": 15.0,
    "SUBNETWORKS": 275.0,
    "IMAGES": 2000.0,
    "SNAPSHOTS": 5000.0,
    "INSTANCE_TEMPLATES": 1000.0,
    "ROUTES": 250.0,
}
_DEFAULT_GPU_LIMIT = 8.0


def _default_limit(metric: str) -> float:
    if metric.endswith("_GPUS") and metric != "GPUS_ALL_REGIONS":
        return _DEFAULT_GPU_LIMIT
    return _DEFAULT_LIMITS.get(metric, 0.0)


def _gpus_of(instance: dict[str, Any], shape: MachineShape) -> list[tuple[str, int]]:
    if shape.gpu is not None:
        return [(shape.gpu, shape.gpu_count)]
    return [
        (str(a["acceleratorType"]).rsplit("/", 1)[-1], int(a.get("acceleratorCount", 0)))
        for a in instance.get("guestAccelerators", [])
    ]


class Quotas(EngineBase):
    """Limits and usage by region and globally; quota and capacity failures."""

    def _limit(self, scope: str, metric: str) -> float:
        overrides = self.emulator.settings.get("compute_quota_overrides") or {}
        scoped = overrides.get(scope) if isinstance(overrides, dict) else None
        if isinstance(scoped, dict) and metric in scoped:
            try:
                return float(scoped[metric])
            except (TypeError, ValueError) as exc:
                # A test's mistake in the admin setting: say so rather than fall back to the default.
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"emulator setting compute_quota_overrides[{scope!r}][{metric!r}] is not a number: "
                    f"{scoped[metric]!r}",
                ) from exc
        return _default_limit(metric)

    def _uses(self, instance: dict[str, Any], facts: dict[str, Any], *, running: bool) -> list[_Use]:
        """What an instance consumes, GPU metrics first: the order in which an insert reports the first one short."""
        region = region_of(instance["zone"].rsplit("/", 1)[-1])
        shape = self._shape(instance)
        spot = instance.get("scheduling", {}).get("provisioningModel") == "SPOT" or instance.get("scheduling", {}).get(
            "preemptible", False
        )
        uses: list[_Use] = []
        if running:
            for name, count in _gpus_of(instance, shape):
                metric = ACCELERATORS[name].quota_metric
                # Spot VMs use preemptible quota when the project has some, else the standard quota
                # (https://cloud.google.com/compute/resource-usage#preemptible).
                if spot and self._limit(region, f"PREEMPTIBLE_{metric}") > 0:
                    metric = f"PREEMPTIBLE_{metric}"
                uses += [_Use(region, metric, count), _Use("global", "GPUS_ALL_REGIONS", count)]
            cpu_metric = CPU_METRIC.get(shape.family, "CPUS")
            if spot and self._limit(region, "PREEMPTIBLE_CPUS") > 0:
                cpu_metric = "PREEMPTIBLE_CPUS"
            uses += [_Use(region, cpu_metric, shape.cpus), _Use("global", "CPUS_ALL_REGIONS", shape.cpus)]
            if any(nic.get("accessConfigs") for nic in instance.get("networkInterfaces", [])):
                uses.append(_Use(region, "IN_USE_ADDRESSES", 1))
        uses.append(_Use(region, "INSTANCES", 1))
        # Disks count while the instance exists, running or not (https://cloud.google.com/compute/resource-usage).
        for disk, disk_type in zip(instance.get("disks", []), facts.get("diskTypes", []), strict=False):
            if disk_type not in HYPERDISKS:
                metric = "DISKS_TOTAL_GB" if disk_type == "pd-standard" else "SSD_TOTAL_GB"
                uses.append(_Use(region, metric, float(disk.get("diskSizeGb", 0))))
        return uses

    def _usage(self, project: str) -> dict[tuple[str, str], float]:
        usage: dict[tuple[str, str], float] = {}
        prefix = f"projects/{project}/"
        facts = self._table(INSTANCE_FACTS)
        for key, instance in self._table(INSTANCES).items():
            if not key.startswith(prefix):
                continue
            for use in self._uses(instance, facts.get(key, {}), running=instance.get("status") in _CONSUMING):
                usage[(use.scope, use.metric)] = usage.get((use.scope, use.metric), 0.0) + use.amount
        firewalls = sum(1 for key in self._table(FIREWALLS) if key.startswith(prefix))
        usage[("global", "FIREWALLS")] = float(firewalls)
        usage[("global", "NETWORKS")] = 1.0  # the default network
        return usage

    def _quota_error(self, project: str, needs: list[_Use]) -> dict[str, Any] | None:
        usage = self._usage(project)
        for use in needs:
            if use.amount <= 0:
                continue
            limit = self._limit(use.scope, use.metric)
            if usage.get((use.scope, use.metric), 0.0) + use.amount <= limit:
                continue
            # "Quota 'SSD_TOTAL_GB' exceeded.  Limit: 500.0 in region asia-northeast3." / "... Limit: 20.0 globally."
            # with errorDetails.quotaInfo (metric compute.googleapis.com/cpus, limit CPUS-per-project-region), HTTP
            # 403 FORBIDDEN (operation errors users reported; https://cloud.google.com/docs/quotas/troubleshoot).
            where = "globally" if use.scope == "global" else f"in region {use.scope}"
            quota_info: dict[str, Any] = {
                "metricName": f"compute.googleapis.com/{use.metric.lower()}",
                "limitName": use.metric.replace("_", "-")
                + ("-per-project" if use.scope == "global" else "-per-project-region"),
                "limit": limit,
            }
            if use.scope != "global":
                quota_info["dimensions"] = {"region": use.scope}
            return {
                "error": {
                    "code": "QUOTA_EXCEEDED",
                    "message": f"Quota '{use.metric}' exceeded.  Limit: {limit:.1f} {where}.",
                    "errorDetails": [{"quotaInfo": quota_info}],
                },
                "httpErrorStatusCode": 403,
                "httpErrorMessage": "FORBIDDEN",
            }
        return None

    def _capacity_error(self, project: str, zone: str, instance: dict[str, Any]) -> dict[str, Any] | None:
        exhausted = self.emulator.settings.get("compute_exhausted_zones") or []
        shape = self._shape(instance)
        wanted = {zone, f"{zone}/{shape.name}", *(f"{zone}/{name}" for name, _ in _gpus_of(instance, shape))}
        if not any(str(entry) in wanted for entry in exhausted):
            return None
        # https://github.com/skypilot-org/skypilot (logs of GCP stockouts): the operation error's code and message.
        # The HTTP status that accompanies it is unconfirmed.
        return {
            "error": {
                "code": "ZONE_RESOURCE_POOL_EXHAUSTED",
                "message": f"The zone 'projects/{project}/zones/{zone}' does not have enough resources available to "
                "fulfill the request.  Try a different zone, or try again later.",
            },
            "httpErrorStatusCode": 503,
            "httpErrorMessage": "SERVICE UNAVAILABLE",
        }

    def _quota_docs(self, project: str, scope: str) -> list[dict[str, Any]]:
        usage = self._usage(project)
        metrics = _GLOBAL_METRICS if scope == "global" else _REGION_METRICS
        return [
            {"metric": metric, "limit": self._limit(scope, metric), "usage": usage.get((scope, metric), 0.0)}
            for metric in metrics
        ]
