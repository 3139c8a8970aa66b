"""A [vms.NAME] table: a Container-Optimized OS VM, GPU optional (the planner is services/deploy_vm.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from deployer.errors import BadInput
from deployer.services.build import BuildInputs
from deployer.services.deploy_vm import VmDeployer, VmDeployResult, shape_text
from deployer.services.targets.base import DeployRequest, TableTarget, placement

if TYPE_CHECKING:
    from deployer.config.vm import VmConfig
    from deployer.gcp import GoogleCloud
    from deployer.reporter import Reporter
    from deployer.services.predeploy import ReadyToDeploy


class VmTarget(TableTarget):
    label = "VM"
    lint_target = "vm"

    @property
    def vm(self) -> VmConfig:
        return self.config.vms[self.name]

    def check(self, request: DeployRequest) -> None:
        for flag, given in (
            ("--preview", request.preview),
            ("--canary", request.canary),
            ("--to-latest", request.to_latest),
        ):
            if given:
                raise BadInput(
                    f"{flag} is for Cloud Run services; {self.name} is a [vms] target", f"deploy it without {flag}"
                )

    def build_inputs(self, request: DeployRequest) -> BuildInputs:
        return request.build_inputs(self.config, self.name, self.vm)

    def announce(self, cloud: GoogleCloud, inputs: BuildInputs) -> str:
        console = cloud.target.console_url("compute/instances", inputs.project)
        return f"Deploying VM {self.name} in {inputs.project}/{inputs.region}: {console}"

    def plan(
        self, cloud: GoogleCloud, reporter: Reporter, ready: ReadyToDeploy, request: DeployRequest
    ) -> AbstractContextManager[VmDeployResult]:
        where = placement(ready, request)
        return VmDeployer(cloud, reporter).planned(self.name, self.vm, where, runtime_account=ready.runtime_account)

    def summary(self, result: VmDeployResult) -> list[str]:
        lines = [
            f"VM {self.name}: {result.external_ip or '(no external IP yet)'} ({result.status} in {result.zone})",
            f"  image:   {result.image}@{result.digest}",
            f"  machine: {shape_text(result)}",
        ]
        if result.firewall:
            ports = ", ".join(str(p) for p in self.vm.ports)
            lines.append(f"  ports:   {ports} open (firewall rule {result.firewall})")
        lines.append(f"  status:  deployer status {self.name}")
        return lines
