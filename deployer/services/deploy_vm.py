"""``deployer deploy`` for a VM: check GPUs and quota, build if needed, then create or update the VM.

The order matters, and each step reads before anything changes:
1. the GPU combination (pure; a bad one is BadInput before anything is read or uploaded);
2. preflight: where the accelerator is offered in the region, the regional quota metric (PREEMPTIBLE_* for spot)
   and GPUS_ALL_REGIONS, the COS image, the service account, the live VM and firewall rule. Missing quota stops
   the deploy here, naming the metric and where to ask for more: nothing has been uploaded;
3. the build plan, shared with Cloud Run deploys (``BuildPlanner``);
4. the VM: created when absent; recreated when its shape (machine type, GPUs, disk, scheduling, service account)
   changed; otherwise its ``user-data`` is replaced and the VM reset so the new container runs; no request at all
   when nothing changed. An insert refused for lack of capacity in a zone moves on to the next zone of the region
   that offers the accelerator, and says so;
5. the firewall rule for ``ports``, planned before the VM: created, updated, deleted when ports are removed, or
   left alone. A rule refused at apply so leaves no VM behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from deployer.config.vm import VmConfig
from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.cloud_init import ContainerSpec, render_user_data
from deployer.gcp.bodies.compute import (
    LOGGING_KEY,
    USER_DATA_KEY,
    InstanceSpec,
    firewall_body,
    firewall_differences,
    firewall_name,
    instance_body,
    metadata_value,
    set_metadata_body,
    shape_differences,
)
from deployer.gcp.bodies.labels import describes_managed
from deployer.gcp.compute import Instance, ZoneCapacityError
from deployer.gpu import GpuChoice, boot_disk_type
from deployer.plan import Action, Result, Step, attributes
from deployer.reporter import Reporter
from deployer.services.build import (
    BuildResult,
    Placement,
    digest_of,
    planned_image,
)
from deployer.services.deployed import tag_deployed
from deployer.services.vm_preflight import (
    STOPPED_STATES,
    Preflight,
    VmPreflight,
    check_zone_in_region,
    instance_path,
)


@dataclass
class VmDeployResult(Result):
    name: str
    project: str
    region: str
    zone: str = ""
    instance: str = ""  # projects/P/zones/Z/instances/NAME
    external_ip: str = ""
    status: str = ""
    machine_type: str = ""
    gpu: GpuChoice | None = None
    spot: bool = False
    max_run_seconds: int | None = None
    service_account: str = ""
    image: str = ""
    digest: str | None = None
    firewall: str | None = None
    build: BuildResult | None = None
    zones_tried: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {
            "target": "vm",
            **attributes(
                self, "name", "project", "region", "zone", "instance", "external_ip", "status", "machine_type"
            ),
            "gpu": {"type": self.gpu.type, "count": self.gpu.count} if self.gpu else None,
            **attributes(
                self, "spot", "max_run_seconds", "service_account", "image", "digest", "firewall", "zones_tried"
            ),
            "build": self.build.to_json() if self.build else None,
        }


def container_spec(name: str, config: VmConfig, image: str) -> ContainerSpec:
    choice = config.gpu_choice
    return ContainerSpec(
        name=name,
        image=image,
        ports=tuple(config.ports),
        env=tuple(sorted(config.env.items())),
        args=tuple(config.args),
        command=tuple(config.command),
        restart=config.restart,
        gpu_count=choice.count if choice else 0,
        driver_version=config.gpu_driver_version,
    )


class VmDeployer:
    def __init__(self, cloud: GoogleCloud, reporter: Reporter) -> None:
        self._cloud = cloud
        self._reporter = reporter

    @contextmanager
    def planned(
        self, name: str, config: VmConfig, where: Placement, *, runtime_account: str | None = None
    ) -> Iterator[VmDeployResult]:
        """Compute the plan (reads only): GPU checks and quota first, so a deploy that cannot land uploads nothing.

        ``runtime_account`` is bootstrap's runtime account as the deploy found it: the VM runs as it unless the
        config names an account.
        """
        choice = config.gpu_choice  # raises BadInput for a bad combination, before any request
        project, region, image = where.project, where.region, where.image
        check_zone_in_region(config.zone, region)
        result = VmDeployResult(
            name=name,
            project=project,
            region=region,
            machine_type=config.machine_type,
            gpu=choice,
            spot=config.spot,
            max_run_seconds=config.max_run_seconds,
        )
        reads = VmPreflight(self._cloud, self._reporter, name=name, project=project, region=region)
        preflight = reads.run(config, choice, runtime_account)
        result.service_account = preflight.service_account
        with planned_image(self._cloud, self._reporter, result.plan, where) as result.build:
            # The firewall rule first: a rule refused (403 at apply) leaves no VM behind; a rule without its VM
            # opens nothing, and the next deploy finds it matching.
            self._plan_firewall(result, config, preflight.firewall)
            self._plan_vm(result, config, preflight, image)
            yield result

    # --- the VM ------------------------------------------------------------------------------------------------------

    def _image_reference(self, result: VmDeployResult, image: str | None) -> str:
        if image is not None:
            return image
        assert result.build is not None
        return result.build.reference

    def _spec(
        self, result: VmDeployResult, config: VmConfig, preflight: Preflight, zone: str, image: str | None
    ) -> InstanceSpec:
        choice = result.gpu
        return InstanceSpec(
            name=result.name,
            zone=zone,
            machine_type=config.machine_type,
            source_image=preflight.source_image,
            disk_gb=config.boot_disk_gb,
            disk_type=boot_disk_type(config.machine_type),
            user_data=self._user_data(result, config, image),
            service_account=preflight.service_account,
            gpu_type=choice.type if choice else None,
            gpu_count=choice.count if choice else 0,
            guest_accelerators=bool(choice and choice.attached_as_guest),
            spot=config.spot,
            termination_action=config.termination_action,
            max_run_seconds=config.max_run_seconds,
        )

    def _user_data(self, result: VmDeployResult, config: VmConfig, image: str | None) -> str:
        try:
            return render_user_data(container_spec(result.name, config, self._image_reference(result, image)))
        except ValueError as exc:
            raise BadInput(f"[vms.{result.name}]: {exc}") from None

    def _plan_vm(self, result: VmDeployResult, config: VmConfig, preflight: Preflight, image: str | None) -> None:
        existing = preflight.existing
        result.image = result.build.image if result.build else (image or "").split("@", 1)[0]
        result.digest = result.build.digest if result.build else digest_of(image)
        build_pending = result.build is not None and result.build.digest is None
        zone = existing.zone if existing is not None else preflight.candidates[0]
        result.zone = zone
        result.instance = instance_path(result.project, zone, result.name)
        desired = instance_body(self._spec(result, config, preflight, zone, image))
        if existing is None:
            result.status = "absent"
            result.plan.add(
                Step(
                    Action.CREATE,
                    result.instance,
                    f"create VM {result.name} ({shape_text(result)}) in {zone}",
                    {
                        "method": "POST",
                        "url": f"/compute/v1/projects/{result.project}/zones/{zone}/instances",
                        "body": desired,
                    },
                    apply=lambda: self._create(result, config, preflight, image, preflight.candidates),
                )
            )
            return
        result.status = existing.status
        result.external_ip = existing.external_ip
        shape = shape_differences(desired, existing.doc)
        if shape:
            # Only a stopped VM can change machine type, GPUs or provisioning model, and the boot disk cannot
            # shrink: a new VM is simpler and certain. But whatever the container wrote to the boot disk (a
            # checkpoint, a downloaded model) goes with it, so the step asks first, like destroy does.
            candidates = [zone, *(z for z in preflight.candidates if z != zone)]
            result.plan.add(
                Step(
                    Action.UPDATE,
                    result.instance,
                    f"recreate VM {result.name} (delete, then create): its boot disk and everything on it is lost; "
                    f"{'; '.join(shape)}",
                    {
                        "method": "DELETE+POST",
                        "url": f"/compute/v1/{result.instance}",
                        "body": desired,
                    },
                    apply=lambda: self._recreate(
                        result, lambda: self._create(result, config, preflight, image, candidates)
                    ),
                    confirm=f"Recreate VM {result.name}, deleting its boot disk and everything on it?",
                )
            )
            return
        current_user_data = metadata_value(existing.doc, USER_DATA_KEY)
        desired_user_data = desired["metadata"]["items"][0]["value"]
        metadata_same = current_user_data == desired_user_data and metadata_value(existing.doc, LOGGING_KEY) == "true"
        stopped = existing.status in STOPPED_STATES
        if metadata_same and not build_pending:
            if stopped:
                result.plan.add(
                    Step(
                        Action.RUN,
                        result.instance,
                        f"start VM {result.name} (it is {existing.status}; its container is up to date)",
                        {"method": "POST", "url": f"/compute/v1/{result.instance}/start", "body": None},
                        apply=lambda: self._start(result),
                    )
                )
            else:
                result.plan.add(Step(Action.NOOP, result.instance, "VM is up to date: same image, same container"))
            return
        what = _container_change(current_user_data, self._image_reference(result, image), build_pending)
        then = "start it" if stopped else "reset it so the container restarts"
        result.plan.add(
            Step(
                Action.UPDATE,
                result.instance,
                f"update VM {result.name}: {what}; replace its user-data, then {then}",
                {
                    "method": "POST",
                    "url": f"/compute/v1/{result.instance}/setMetadata",
                    "body": set_metadata_body(existing.metadata, desired_user_data),
                },
                apply=lambda: self._update(result, config, image),
            )
        )

    def _create(
        self,
        result: VmDeployResult,
        config: VmConfig,
        preflight: Preflight,
        image: str | None,
        candidates: list[str],
    ) -> None:
        """Insert in the first zone with capacity: a zone out of capacity is reported and the next one tried."""
        compute = self._cloud.compute
        result.digest = result.build.digest if result.build else digest_of(image)
        for index, zone in enumerate(candidates):
            body = instance_body(self._spec(result, config, preflight, zone, image))
            result.zones_tried.append(zone)
            try:
                with self._reporter.activity(f"Creating VM {result.name} in {zone}"):
                    created = compute.insert_instance(result.project, zone, body)
            except ZoneCapacityError as error:
                remaining = candidates[index + 1 :]
                if not remaining:
                    raise DeployerError(
                        f"no zone of {result.region} had capacity for {shape_text(result)} "
                        f"(tried {', '.join(result.zones_tried)}). Google: {'; '.join(error.messages)}",
                        "try again later, or another region that offers it"
                        + ("" if result.spot else ", or spot = true (spot capacity is often separate)"),
                    ) from error
                self._reporter.warn(f"zone {zone} had no capacity; trying {remaining[0]}")
                continue
            self._landed(result, created)
            tag_deployed(self._cloud, self._reporter, self._image_reference(result, image), "vm", result.name)
            if zone != candidates[0]:
                self._reporter.info(f"VM {result.name} landed in {zone}")
            return

    def _recreate(self, result: VmDeployResult, create: Callable[[], None]) -> None:
        """Delete the VM, then ``create`` it again."""
        with self._reporter.activity(f"Deleting VM {result.name} in {result.zone} to recreate it"):
            self._cloud.compute.delete_instance(result.project, result.zone, result.name)
        create()

    def _update(self, result: VmDeployResult, config: VmConfig, image: str | None) -> None:
        """Replace the user-data (with the fingerprint of a fresh read), then reset (or start) the VM."""
        compute = self._cloud.compute
        result.digest = result.build.digest if result.build else digest_of(image)
        user_data = self._user_data(result, config, image)
        current = compute.get_instance(result.project, result.zone, result.name)
        if current is None:
            raise DeployerError(
                f"VM {result.name} disappeared from {result.zone} while deploying", "run the command again"
            )
        if metadata_value(current.doc, USER_DATA_KEY) == user_data:
            # The build produced the image the VM already runs.
            self._reporter.info("The new build produced the running image: VM unchanged")
            self._landed(result, current)
            return
        with self._reporter.activity(f"Updating VM {result.name}"):
            compute.set_metadata(
                result.project, result.zone, result.name, set_metadata_body(current.metadata, user_data)
            )
            if current.status in STOPPED_STATES:
                compute.start(result.project, result.zone, result.name)
            else:
                compute.reset(result.project, result.zone, result.name)
        refreshed = compute.get_instance(result.project, result.zone, result.name)
        self._landed(result, refreshed or current)
        tag_deployed(self._cloud, self._reporter, self._image_reference(result, image), "vm", result.name)

    def _start(self, result: VmDeployResult) -> None:
        compute = self._cloud.compute
        with self._reporter.activity(f"Starting VM {result.name}"):
            compute.start(result.project, result.zone, result.name)
        found = compute.get_instance(result.project, result.zone, result.name)
        if found is not None:
            self._landed(result, found)

    def _landed(self, result: VmDeployResult, instance: Instance) -> None:
        result.zone = instance.zone or result.zone
        result.instance = instance_path(result.project, result.zone, result.name)
        result.external_ip = instance.external_ip
        result.status = instance.status

    # --- the firewall rule ------------------------------------------------------------------------------------------

    def _plan_firewall(self, result: VmDeployResult, config: VmConfig, current: dict[str, Any] | None) -> None:
        compute = self._cloud.compute
        name = firewall_name(result.name)
        resource = f"projects/{result.project}/global/firewalls/{name}"
        url = f"/compute/v1/projects/{result.project}/global/firewalls"
        project = result.project
        if not config.ports:
            if current is not None and describes_managed(current.get("description")):
                result.plan.add(
                    Step(
                        Action.DELETE,
                        resource,
                        "delete the firewall rule: ports is no longer set",
                        {"method": "DELETE", "url": f"{url}/{name}", "body": None},
                        apply=lambda: compute.delete_firewall(project, name),
                    )
                )
            return
        result.firewall = name
        desired = firewall_body(result.name, tuple(config.ports))
        ports = ", ".join(str(p) for p in sorted(config.ports))
        if current is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    resource,
                    f"allow TCP {ports} to the VM from anywhere (firewall rule {name})",
                    {"method": "POST", "url": url, "body": desired},
                    apply=lambda: compute.insert_firewall(project, desired),
                )
            )
            return
        if not describes_managed(current.get("description")):
            raise DeployerError(
                f"a firewall rule named {name} exists and was not made by deployer",
                "delete or rename that rule, then deploy again",
            )
        changed = firewall_differences(desired, current)
        if not changed:
            result.plan.add(Step(Action.NOOP, resource, f"firewall rule allows TCP {ports}"))
            return
        result.plan.add(
            Step(
                Action.UPDATE,
                resource,
                f"update firewall rule {name}: {'; '.join(changed)}",
                {"method": "PATCH", "url": f"{url}/{name}", "body": desired},
                apply=lambda: compute.patch_firewall(project, name, desired),
            )
        )


def shape_text(result: VmDeployResult) -> str:
    """``g2-standard-8, 1 nvidia-l4, spot, stops after 8h``."""
    parts = [result.machine_type]
    if result.gpu:
        parts.append(f"{result.gpu.count} {result.gpu.type}")
    if result.spot:
        parts.append("spot")
    if result.max_run_seconds:
        parts.append(f"stops after {duration_text(result.max_run_seconds)}")
    return ", ".join(parts)


def duration_text(seconds: int) -> str:
    """``8h``, ``1h30m``, ``45s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value) or "0s"


def _container_change(current_user_data: str | None, image: str, build_pending: bool) -> str:
    if build_pending:
        return "the image, once built"
    if current_user_data is None:
        return "it has no deployer user-data yet"
    if image not in current_user_data:
        return f"new image {image.rsplit('/', 1)[-1]}"
    return "container settings (args, env, ports, restart or driver)"


__all__ = [
    "VmDeployResult",
    "VmDeployer",
    "container_spec",
    "duration_text",
    "shape_text",
]
