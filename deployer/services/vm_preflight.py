"""The reads a VM deploy makes before it uploads anything: where the VM may go (zones offering the accelerator),
where it is now, GPU quota, the machine type, the Container-Optimized OS image, the account it runs as, and its
firewall rule. A deploy that cannot land stops here, naming the fix, with nothing uploaded.

Also what the VM's deploy, destroy and status share: where a VM of a name may be, and whether deployer made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.config.vm import VmConfig
from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.compute import firewall_name
from deployer.gcp.bodies.labels import MANAGED_BY_TEXT, is_managed
from deployer.gcp.compute import Instance, Quota, quota_console_url
from deployer.gpu import BUILTIN_GPU_MACHINE_TYPES, GPUS_ALL_REGIONS, GpuChoice
from deployer.reporter import Reporter
from deployer.services.roles import RUNTIME_ACCOUNT_ID, service_account_email

# Instance states in which the VM runs (and holds GPU quota); the others are stopped or on their way there.
RUNNING_STATES = frozenset({"PROVISIONING", "STAGING", "RUNNING", "REPAIRING"})
STOPPED_STATES = frozenset({"STOPPING", "STOPPED", "TERMINATED", "SUSPENDING", "SUSPENDED"})


def instance_path(project: str, zone: str, name: str) -> str:
    return f"projects/{project}/zones/{zone}/instances/{name}"


def zones_to_search(config_zone: str | None, region_zones: tuple[str, ...] | list[str]) -> list[str]:
    """Where a VM of this name may be: the configured zone first, then every zone of the region."""
    return [*([config_zone] if config_zone else []), *(z for z in region_zones if z != config_zone)]


def check_zone_in_region(zone: str | None, region: str) -> None:
    if zone is not None and not zone.startswith(f"{region}-"):
        raise BadInput(
            f'zone = "{zone}" is not in region {region}',
            f'use a zone of {region} (e.g. "{region}-a"), or change region',
        )


@dataclass
class Preflight:
    """What the reads found: where the VM may go, where it is, what it runs as, and which image it boots."""

    candidates: list[str]  # zones to create in, in order
    existing: Instance | None
    service_account: str
    source_image: str
    firewall: dict[str, Any] | None


class VmPreflight:
    """The reads for one VM, in the order that lets the cheapest refusal come first."""

    def __init__(self, cloud: GoogleCloud, reporter: Reporter, *, name: str, project: str, region: str) -> None:
        self._cloud = cloud
        self._reporter = reporter
        self.name = name
        self.project = project
        self.region = region

    def run(self, config: VmConfig, choice: GpuChoice | None, runtime_account: str | None) -> Preflight:
        compute = self._cloud.compute
        project, region = self.project, self.region
        region_info = compute.region(project, region)
        if not region_info.zones:
            raise DeployerError(f"region {region} reports no zones", f'set zone = "{region}-a" (a zone of the region)')
        if config.zone is not None and config.zone not in region_info.zones:
            raise BadInput(
                f'zone = "{config.zone}" is not a zone of {region}; its zones: {", ".join(region_info.zones)}',
                "use one of them, or leave zone out to let deployer choose",
            )
        if choice is not None:
            offering = compute.accelerator_zones(project, choice.type)
            in_region = [z for z in region_info.zones if z in offering]
            if not in_region:
                elsewhere = sorted({z.rsplit("-", 1)[0] for z in offering})
                raise DeployerError(
                    f"no zone of {region} offers {choice.type}",
                    f"use a region that does: {', '.join(elsewhere) or 'none found'} (region = ... in deployer.toml)",
                )
            if config.zone is not None and config.zone not in in_region:
                raise DeployerError(
                    f"zone {config.zone} does not offer {choice.type}",
                    f"use a zone of {region} that does: {', '.join(in_region)}, or leave zone out",
                )
            usable = in_region
        else:
            usable = list(region_info.zones)
        candidates = zones_to_search(config.zone, usable)
        # A misspelt machine type passes the name check; Google would refuse it only at insert, after the build.
        if compute.machine_type(project, candidates[0], config.machine_type) is None:
            raise BadInput(
                f'machine_type = "{config.machine_type}" is not offered in zone {candidates[0]}',
                "check the name (e.g. e2-standard-2, n1-standard-8, g2-standard-8): "
                "https://cloud.google.com/compute/docs/machine-resource",
            )
        existing = compute.find_instance(project, zones_to_search(config.zone, region_info.zones), self.name)
        if existing is not None and not is_managed(existing.labels):
            raise DeployerError(
                f"a VM named {self.name} already exists in {existing.zone} and was not created by deployer "
                f"(it has no {MANAGED_BY_TEXT} label); deployer leaves it alone",
                f"rename the [vms.{self.name}] table, or delete that VM yourself",
            )
        project_info = compute.project(project)
        if choice is not None:
            self._check_quota(choice, config.spot, region_info.quotas, project_info.quotas, existing)
        image = compute.cos_image()
        if image.disk_size_gb and config.boot_disk_gb < image.disk_size_gb:
            raise BadInput(
                f"disk_gb = {config.boot_disk_gb} is smaller than the {image.name} image ({image.disk_size_gb} GB)",
                f"set disk_gb to at least {image.disk_size_gb}",
            )
        account = self._service_account(config, project_info.default_service_account, runtime_account)
        firewall = compute.get_firewall(project, firewall_name(self.name))
        return Preflight(candidates, existing, account, image.self_link, firewall)

    def _check_quota(
        self,
        choice: GpuChoice,
        spot: bool,
        regional: dict[str, Quota],
        global_quotas: dict[str, Quota],
        existing: Instance | None,
    ) -> None:
        """The regional metric and GPUS_ALL_REGIONS must leave room for the count.

        Spot VMs draw on the PREEMPTIBLE_* metric when the project has that quota, and on the standard metric when
        it has none (https://cloud.google.com/compute/resource-usage#preemptible_quota). The GPUs of the running VM
        this deploy updates or replaces are already in the usage: they count as free here.
        """
        metric = choice.quota_metric(spot=False)
        fallback_note = ""
        if spot:
            preemptible = regional.get(choice.quota_metric(spot=True))
            if preemptible is not None and preemptible.limit > 0:
                metric = preemptible.metric
            else:
                fallback_note = (
                    f" (spot VMs count against {metric} while the project has no {choice.quota_metric(spot=True)} "
                    "quota)"
                )
        freed = 0
        if existing is not None and existing.status in RUNNING_STATES:
            builtin = BUILTIN_GPU_MACHINE_TYPES.get(existing.machine_type)
            freed = builtin[1] if builtin else sum(count for _, count in existing.guest_accelerators)
        missing: list[str] = []
        metrics: list[str] = []
        for quota_name, table, where in (
            (metric, regional, f"region {self.region}"),
            (GPUS_ALL_REGIONS, global_quotas, "all regions"),
        ):
            quota = table.get(quota_name)
            if quota is None:
                self._reporter.warn(f"{where} reports no {quota_name} quota; not checked")
                continue
            if quota.available + freed < choice.count:
                note = fallback_note if quota_name == metric else ""
                missing.append(
                    f"{quota_name} ({where}): limit {quota.limit:g}, in use {quota.usage:g}, "
                    f"this VM needs {choice.count}{note}"
                )
                metrics.append(quota_name)
        if missing:
            kind = "spot " if spot else ""
            if fallback_note and metric in metrics:
                metrics.append(choice.quota_metric(spot=True))
            links = "; ".join(f"{m}: {quota_console_url(self.project, m)}" for m in metrics)
            raise DeployerError(
                f"not enough GPU quota for {choice.count} {kind}{choice.type} in {self.project}: "
                + "; ".join(missing)
                + ". Nothing was uploaded or built.",
                f"request an increase on the Quotas page ({links}); new and free-trial projects start at 0, "
                "and a request can take a day or two",
            )

    def _service_account(self, config: VmConfig, default_account: str, runtime_account: str | None) -> str:
        """The VM's identity, which must read the repository: the configured one, else bootstrap's runtime account
        when it exists (as the deploy found it), else the project's Compute Engine default service account."""
        if config.service_account:
            return config.service_account
        if runtime_account:
            return runtime_account
        if not default_account:
            raise DeployerError(
                f"no service account for the VM: {service_account_email(RUNTIME_ACCOUNT_ID, self.project)} does not "
                "exist and the project reports no Compute Engine default service account",
                "run `deployer bootstrap`, or set service_account = in the [vms] table",
            )
        self._reporter.info(
            f"The VM runs as {default_account}; it needs roles/artifactregistry.reader to pull the image "
            "(`deployer bootstrap` makes a runtime account that has it)"
        )
        return default_account
