"""``deployer destroy`` for a VM: delete the VM deployer made (with its boot disk) and the firewall rule it opened.

A VM or rule deployer did not make (no managed-by=deployer mark) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.config.vm import VmConfig
from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.compute import (
    firewall_name,
)
from deployer.gcp.bodies.labels import MANAGED_BY_TEXT, describes_managed, is_managed
from deployer.plan import Action, Result, Step
from deployer.reporter import Reporter
from deployer.services.vm_preflight import (
    check_zone_in_region,
    instance_path,
    zones_to_search,
)


@dataclass
class VmDestroyResult(Result):
    name: str
    project: str
    region: str
    zone: str = ""

    def fields(self) -> dict[str, Any]:
        return {"target": "vm", "name": self.name, "project": self.project, "region": self.region, "zone": self.zone}


class VmDestroyer:
    """Plans and applies the deletion of a VM deployer made, and of its firewall rule."""

    def __init__(self, cloud: GoogleCloud, reporter: Reporter) -> None:
        self._cloud = cloud
        self._reporter = reporter

    def plan(self, name: str, config: VmConfig, *, project: str, region: str) -> VmDestroyResult:
        check_zone_in_region(config.zone, region)
        compute = self._cloud.compute
        result = VmDestroyResult(name=name, project=project, region=region)
        zones = compute.region(project, region).zones
        instance = compute.find_instance(project, zones_to_search(config.zone, zones), name)
        if instance is None:
            result.plan.add(
                Step(Action.NOOP, f"projects/{project}/zones/*/instances/{name}", f"no VM {name} in {region}")
            )
        elif not is_managed(instance.labels):
            raise DeployerError(
                f"VM {name} in {instance.zone} was not created by deployer (no {MANAGED_BY_TEXT} label); "
                "deployer does not delete it",
                "delete it yourself if it should go: gcloud compute instances delete "
                f"{name} --zone {instance.zone} --project {project}",
            )
        else:
            zone = instance.zone
            result.zone = zone
            path = instance_path(project, zone, name)
            result.plan.add(
                Step(
                    Action.DELETE,
                    path,
                    f"delete VM {name} in {zone} ({instance.status}; its boot disk goes with it)",
                    {"method": "DELETE", "url": f"/compute/v1/{path}", "body": None},
                    apply=lambda: self._delete_instance(project, zone, name),
                )
            )
        rule = firewall_name(name)
        resource = f"projects/{project}/global/firewalls/{rule}"
        firewall = compute.get_firewall(project, rule)
        if firewall is None:
            result.plan.add(Step(Action.NOOP, resource, "no firewall rule"))
        elif not describes_managed(firewall.get("description")):
            result.plan.add(Step(Action.NOOP, resource, "firewall rule not made by deployer: left alone"))
        else:
            result.plan.add(
                Step(
                    Action.DELETE,
                    resource,
                    f"delete firewall rule {rule}",
                    {"method": "DELETE", "url": f"/compute/v1/{resource}", "body": None},
                    apply=lambda: compute.delete_firewall(project, rule),
                )
            )
        return result

    def _delete_instance(self, project: str, zone: str, name: str) -> None:
        with self._reporter.activity(f"Deleting VM {name} in {zone}"):
            self._cloud.compute.delete_instance(project, zone, name)
