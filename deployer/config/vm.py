"""``[vms.NAME]``: a Container-Optimized OS Compute Engine VM that runs one container (GPU optional).

The GPU rules (which accelerator goes with which machine type, in what counts, on how big a disk) live in
``deployer/gpu.py``; this model applies them so a bad combination is reported with the file and the key.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from deployer import gpu as catalogue
from deployer.config.checks import (
    RelativePath,
    ServiceAccountEmail,
    WorkloadRoles,
    check_env_name_syntax,
    matching,
    parse_duration,
    secret_env_problems,
)
from deployer.config.table import Table

_VM_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_ZONE_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")
# cos-extensions accepts "default", "latest", a driver branch such as "R535", or an exact version such as
# "535.183.01": https://cloud.google.com/container-optimized-os/docs/how-to/run-gpus#install
_DRIVER_RE = re.compile(r"^(default|latest|R[0-9]{3,}|[0-9]+\.[0-9]+(\.[0-9]+)?)$")

# Compute Engine's maxRunDuration ranges from 30 seconds to 120 days:
# https://cloud.google.com/compute/docs/instances/limit-vm-runtime
MIN_RUN_DURATION_S = 30
MAX_RUN_DURATION_S = 120 * 24 * 3600
# A GPU VM stops after this long unless told otherwise: a forgotten VM must not bill for weeks.
DEFAULT_GPU_RUN_DURATION_S = 8 * 3600
# Largest boot disk deployer asks for (pd-balanced allows 64 TB; a container VM never needs near that).
MAX_DISK_GB = 65536

RESTART_POLICIES = ("always", "on-failure", "no")
TERMINATION_ACTIONS = ("STOP", "DELETE")


_check_vm_name = matching(
    _VM_NAME_RE,
    lambda value: (
        f'invalid VM name "{value}": a Compute Engine instance name is 1 to 63 characters: lowercase '
        "letters, digits and hyphens, starting with a letter and not ending with a hyphen"
    ),
)
_check_zone = matching(_ZONE_RE, 'a zone looks like "europe-west4-a" or "us-central1-b"')


def _check_env_value(value: str) -> str:
    if "\x00" in value:
        raise ValueError("an environment value cannot contain a NUL character")
    return value


_check_driver = matching(
    _DRIVER_RE, 'must be "default", "latest", a driver branch like "R535", or an exact version like "535.183.01"'
)


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"port {value} is out of range: a port is 1 to 65535")
    return value


def _run_duration(value: object) -> int:
    """``"none"`` is 0 (no limit); a duration string or a number of seconds within Compute Engine's range."""
    if isinstance(value, str) and value.strip().lower() == "none":
        return 0
    try:
        return parse_duration(value, low=MIN_RUN_DURATION_S, high=MAX_RUN_DURATION_S)
    except ValueError:
        raise ValueError(
            'must be a duration like "8h", "90m" or "2h30m" between 30s and 120 days (2880h), or "none" for no limit'
        ) from None


VmName = Annotated[str, AfterValidator(_check_vm_name)]
Zone = Annotated[str, AfterValidator(_check_zone)]
VmEnvName = Annotated[str, AfterValidator(check_env_name_syntax)]
VmEnvValue = Annotated[str, AfterValidator(_check_env_value)]
Port = Annotated[StrictInt, AfterValidator(_check_port)]
MachineType = Annotated[str, AfterValidator(catalogue.check_machine_type_name)]
DriverVersion = Annotated[str, AfterValidator(_check_driver)]
RunDuration = Annotated[
    int,
    BeforeValidator(_run_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "integer"}],
            "description": 'A duration like "8h" or "90m", or "none" for no limit.',
        }
    ),
]


class GpuConfig(Table):
    """``gpu = { type, count }``: the accelerator and how many (N1), or a check on what the machine type carries."""

    type: str = Field(description="Accelerator type, e.g. nvidia-l4 or nvidia-tesla-t4.")
    count: StrictInt | None = Field(
        default=None, ge=1, description="How many; the machine type fixes it on G2/A2/A3/A4."
    )


class VmConfig(Table):
    """One VM running one container on Container-Optimized OS, optionally with GPUs."""

    dockerfile: RelativePath = "Dockerfile"
    context: RelativePath = "."
    machine_type: MachineType = "e2-standard-2"
    gpu: GpuConfig | None = None
    zone: Zone | None = Field(default=None, description="Preferred zone, in the region; chosen when not set.")
    spot: StrictBool = False
    max_run_duration: RunDuration | None = Field(
        default=None,
        description='Stop (or delete) the VM after this long; "8h" for GPU VMs unless set; "none" disables.',
    )
    termination_action: Literal["STOP", "DELETE"] = "STOP"
    ports: tuple[Port, ...] = ()
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    env: dict[VmEnvName, VmEnvValue] = Field(default_factory=dict)
    # More env keys whose values are shown masked, beyond the names that look secret (deployer/masking.py).
    secret_env: tuple[VmEnvName, ...] = ()
    disk_gb: StrictInt | None = Field(default=None, le=MAX_DISK_GB, description="Boot disk size in GB.")
    restart: Literal["always", "on-failure", "no"] = "always"
    service_account: ServiceAccountEmail = ""
    # Project roles the workload needs (granted to the runtime account by bootstrap), e.g. roles/storage.objectViewer.
    roles: WorkloadRoles = ()
    gpu_driver_version: DriverVersion = "default"
    depends_on: tuple[str, ...] = Field(
        default=(), description="Targets deployed before this one, beyond those its ${...} references name."
    )

    @model_validator(mode="after")
    def _check_combinations(self) -> VmConfig:
        problems = catalogue.gpu_problems(
            self.machine_type, self.gpu.type if self.gpu else None, self.gpu.count if self.gpu else None
        )
        if not problems:
            has_gpu = self.gpu_choice is not None
            least = catalogue.min_boot_disk_gb(gpu=has_gpu)
            if self.disk_gb is not None and self.disk_gb < least:
                kind = "a GPU VM (the driver and CUDA images need the room)" if has_gpu else "Container-Optimized OS"
                problems.append(f"disk_gb = {self.disk_gb} is too small: at least {least} for {kind}")
            if not has_gpu and "gpu_driver_version" in self.model_fields_set:
                problems.append(
                    f'gpu_driver_version = "{self.gpu_driver_version}" is set but machine_type = '
                    f'"{self.machine_type}" has no GPU; add gpu = {{ ... }} or remove gpu_driver_version'
                )
        problems += secret_env_problems(self.env, self.secret_env)
        if len(set(self.ports)) != len(self.ports):
            problems.append(f"ports = {list(self.ports)} lists a port twice; list each port once")
        if (
            "termination_action" in self.model_fields_set
            and not self.spot
            and self.max_run_seconds is None
            and self.termination_action != "STOP"
        ):
            problems.append(
                f'termination_action = "{self.termination_action}" applies only to spot VMs or with a '
                "max_run_duration; set spot = true or max_run_duration, or remove it"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def gpu_choice(self) -> catalogue.GpuChoice | None:
        """The VM's GPUs (from ``gpu``, or from a G2/A2/A3/A4 machine type); None without GPUs."""
        return catalogue.resolve_gpu(
            self.machine_type, self.gpu.type if self.gpu else None, self.gpu.count if self.gpu else None
        )

    @property
    def boot_disk_gb(self) -> int:
        if self.disk_gb is not None:
            return self.disk_gb
        return catalogue.default_boot_disk_gb(gpu=self.gpu_choice is not None)

    @property
    def max_run_seconds(self) -> int | None:
        """Seconds until Compute Engine stops the VM; None for no limit ("none", or unset on a CPU VM)."""
        if self.max_run_duration is None:
            return DEFAULT_GPU_RUN_DURATION_S if self.gpu_choice is not None else None
        return self.max_run_duration or None

    def describe(self) -> dict[str, Any]:
        """The settings with the defaults that depend on the machine (GPUs, disk, run duration) filled in."""
        choice = self.gpu_choice
        return {
            **self.model_dump(mode="json"),
            "resolved": {
                "gpu": {"type": choice.type, "count": choice.count} if choice else None,
                "disk_gb": self.boot_disk_gb,
                "max_run_seconds": self.max_run_seconds,
            },
        }
