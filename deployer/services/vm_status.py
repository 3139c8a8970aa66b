"""``deployer status`` for a VM: the instance as Compute Engine reports it, its container as the serial port shows it.

There is no agent on the VM to ask: the container's state is read from the serial console (port 1), where systemd
reports units starting, stopping and failing, and where both deployer units copy their output
(``StandardOutput=journal+console``, see gcp/bodies/cloud_init.py). That is as far as the VM lets one see without
logging in; Cloud Logging has the full container log (``google-logging-enabled``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from deployer.config.vm import VmConfig
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.cloud_init import APP_UNIT, GPU_DRIVER_DESCRIPTION, GPU_DRIVER_UNIT, app_unit_description
from deployer.gcp.bodies.compute import USER_DATA_KEY, firewall_name, metadata_value
from deployer.gcp.compute import Instance
from deployer.gpu import BUILTIN_GPU_MACHINE_TYPES
from deployer.plan import attributes
from deployer.services.vm_preflight import check_zone_in_region, zones_to_search

DEFAULT_LINES = 20

# docker run options deployer writes that take a value (gcp/bodies/cloud_init.py:docker_run_argv).
_OPTIONS_WITH_VALUE = frozenset({"-p", "-e", "--volume", "--device", "--entrypoint"})


@dataclass
class VmStatus:
    name: str
    project: str
    region: str
    exists: bool = False
    zone: str = ""
    status: str = "absent"  # Compute Engine's instance status, or "absent"
    external_ip: str = ""
    machine_type: str = ""
    gpus: list[tuple[str, int]] = field(default_factory=list)
    provisioning_model: str = ""
    max_run_seconds: int | None = None
    image: str = ""
    driver: str = ""  # the GPU driver unit as the serial port shows it; "" on a CPU VM
    container: str = ""  # the app unit as the serial port shows it
    firewall: dict[str, Any] | None = None
    log: list[str] = field(default_factory=list)  # the last lines of serial port output

    def to_json(self) -> dict[str, Any]:
        return {
            "target": "vm",
            **attributes(self, "name", "project", "region", "exists", "zone", "status", "external_ip", "machine_type"),
            "gpus": [{"type": name, "count": count} for name, count in self.gpus],
            **attributes(
                self, "provisioning_model", "max_run_seconds", "image", "driver", "container", "firewall", "log"
            ),
        }


def image_of(user_data: str | None) -> str:
    """The image the app unit runs, read back from the ``docker run`` line of deployer's user-data."""
    for line in (user_data or "").splitlines():
        text = line.strip()
        if not text.startswith("ExecStart=") or " run " not in text:
            continue
        try:
            words = shlex.split(text.removeprefix("ExecStart="))
        except ValueError:
            return ""
        index = words.index("run") + 1 if "run" in words else len(words)
        while index < len(words):
            word = words[index]
            if word in _OPTIONS_WITH_VALUE:
                index += 2
            elif word.startswith("-"):
                index += 1
            else:
                return word
    return ""


def _unit_events(description: str, unit: str) -> list[tuple[str, str]]:
    """(text that appears on the console, the state it means): systemd prints units by description or by name."""
    return [
        (f"Starting {description}", "starting"),
        (f"Started {description}", "running"),
        (f"Finished {description}", "done"),
        (f"Failed to start {description}", "failed"),
        (f"Stopped {description}", "stopped"),
        (f"{unit}: Main process exited", "exited"),
        (f"{unit}: Failed with result", "failed"),
        (f"{unit}: Scheduled restart job", "restarting"),
        (f"{unit}: Deactivated successfully", "exited"),
        (f"Starting {unit}", "starting"),
        (f"Started {unit}", "running"),
        (f"Finished {unit}", "done"),
        (f"Failed to start {unit}", "failed"),
        (f"Stopped {unit}", "stopped"),
    ]


def unit_state(lines: list[str], description: str, unit: str) -> str:
    """The unit's last state the console reported, with the line that says so; "" when it never appeared."""
    events = _unit_events(description, unit)
    found = ""
    for line in lines:
        for needle, state in events:
            if needle in line:
                found = f"{state} ({line.strip()})"
                break
    return found


def container_state(name: str, lines: list[str]) -> str:
    return unit_state(lines, app_unit_description(name), APP_UNIT) or "not reported on the serial console yet"


def driver_state(lines: list[str]) -> str:
    found = unit_state(lines, GPU_DRIVER_DESCRIPTION, GPU_DRIVER_UNIT)
    if found.startswith(("done", "running")):
        return "installed " + found.split(" ", 1)[1]
    return found or "not reported on the serial console yet"


def _gpus(instance: Instance) -> list[tuple[str, int]]:
    builtin = BUILTIN_GPU_MACHINE_TYPES.get(instance.machine_type)
    if builtin is not None:
        return [builtin]
    return instance.guest_accelerators


def vm_status(
    cloud: GoogleCloud, name: str, config: VmConfig, *, project: str, region: str, lines: int = DEFAULT_LINES
) -> VmStatus:
    """Reads only: the instance, its serial port output and its firewall rule."""
    check_zone_in_region(config.zone, region)
    compute = cloud.compute
    result = VmStatus(name=name, project=project, region=region)
    zones = compute.region(project, region).zones
    instance = compute.find_instance(project, zones_to_search(config.zone, zones), name)
    result.firewall = compute.get_firewall(project, firewall_name(name))
    if instance is None:
        return result
    scheduling = instance.doc.get("scheduling") or {}
    seconds = (scheduling.get("maxRunDuration") or {}).get("seconds")
    result.exists = True
    result.zone = instance.zone
    result.status = instance.status
    result.external_ip = instance.external_ip
    result.machine_type = instance.machine_type
    result.gpus = _gpus(instance)
    result.provisioning_model = str(scheduling.get("provisioningModel", "STANDARD"))
    result.max_run_seconds = int(seconds) if seconds else None
    result.image = image_of(metadata_value(instance.doc, USER_DATA_KEY))
    if instance.status in ("RUNNING", "STAGING", "PROVISIONING", "STOPPING", "REPAIRING"):
        output = compute.serial_output(project, instance.zone, name).contents.splitlines()
        result.log = output[-lines:] if lines > 0 else []
        result.container = container_state(name, output)
        if result.gpus:
            result.driver = driver_state(output)
    else:
        result.container = f"not running: the VM is {instance.status}"
    return result
