"""Compute Engine v1: instances, their operations, firewalls, COS images, and the GPU catalogue with quotas.

Routes (URIs as in google-cloud-compute's REST transport, ``compute_v1/services/*/transports/rest_base.py``):
  ``POST|GET /compute/v1/projects/{p}/zones/{z}/instances``, ``GET|DELETE .../instances/{i}``,
  ``POST .../instances/{i}/setMetadata|reset|stop|start|setScheduling``, ``GET .../instances/{i}/serialPort``,
  ``GET /compute/v1/projects/{p}/aggregated/instances``;
  ``GET|DELETE .../zones/{z}/operations/{op}``, ``POST .../zones/{z}/operations/{op}/wait``,
  ``GET .../zones/{z}/operations``,
  the same under ``regions/{r}`` and ``global``;
  ``POST|GET /compute/v1/projects/{p}/global/firewalls``, ``GET|PATCH|DELETE .../global/firewalls/{f}``;
  ``GET /compute/v1/projects/{p}/global/images/family/{family}``, ``GET .../global/images/{image}``,
  ``GET .../global/images`` (the ``cos-cloud`` project's Container-Optimized OS images);
  ``GET /compute/v1/projects/{p}/aggregated/acceleratorTypes``, ``GET .../zones/{z}/acceleratorTypes[/{t}]``;
  ``GET /compute/v1/projects/{p}/aggregated/machineTypes``, ``GET .../zones/{z}/machineTypes[/{t}]``;
  ``GET /compute/v1/projects/{p}/regions[/{r}]``, ``GET .../zones[/{z}]``, ``GET /compute/v1/projects/{p}``.

How it behaves like Google:

- Bodies are parsed strictly with ``compute_v1.Instance`` / ``Firewall`` / ``Metadata`` / ``Scheduling``; Compute's
  enum-valued fields are strings in those types, so their values are checked here against the types' own enums.
  Unknown query parameters are refused, as Google's front end does.
- Errors have Compute's shape: ``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}``.
- Every mutation answers a ``compute#operation`` (decimal uint64 ``id``, ``status`` RUNNING then DONE); failures that
  Compute reports asynchronously (QUOTA_EXCEEDED, ZONE_RESOURCE_POOL_EXHAUSTED) are the operation's
  ``error.errors[]`` with ``httpErrorStatusCode``/``httpErrorMessage``, never the HTTP answer of the insert.
  ``.../operations/{op}/wait`` blocks until DONE or Google's two-minute deadline.
- Quota: running instances consume their region's CPU and GPU metrics (the ``PREEMPTIBLE_*`` metric for Spot VMs when
  the project has that quota, else the standard one), ``GPUS_ALL_REGIONS`` and ``CPUS_ALL_REGIONS``; stopped
  instances keep only their disks and the ``INSTANCES`` count. ``regions.get`` and ``projects.get`` report limit and
  usage.
- Work is time-driven, not thread-driven: an operation is due ``compute_operation_s`` after it starts and is finished
  by the first request that looks at the Compute state after that, so it survives an emulator restart.
- No VM boots and no container runs: the serial console shows what the instance's cloud-init ``user-data`` would do
  on Container-Optimized OS (units written, the GPU driver installed before the units that need it, each unit's
  commands), and says that it is emulated.

The zones, the GPUs each zone offers, the machine types and their built-in GPUs are an emulator catalogue shaped
after https://cloud.google.com/compute/docs/gpus/gpu-regions-zones and https://cloud.google.com/compute/docs/gpus
(not authoritative: Google changes it often).

Settings (``PATCH /_emulator/settings``):
  ``compute_operation_s`` (0.2): how long an operation runs;
  ``compute_wait_timeout_s`` (120): how long ``wait`` blocks at most (Google: about two minutes);
  ``compute_exhausted_zones`` ([]): zones out of capacity, ``"ZONE"`` for everything or ``"ZONE/TYPE"`` for instances
  using that accelerator or machine type;
  ``compute_quota_overrides`` ({}): limits by region or ``"global"``, e.g. ``{"europe-west4": {"NVIDIA_L4_GPUS": 0},
  "global": {"GPUS_ALL_REGIONS": 8}}``, for every project;
  ``compute_clock_advance_s`` (0): seconds added to the clock that ends runs at ``scheduling.maxRunDuration``.
"""

from __future__ import annotations

import base64
import copy
import enum
import hashlib
import ipaddress
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud import compute_v1

from deployer_emulator import protos
from deployer_emulator.core import Emulator, Request, paginate
from deployer_emulator.errors import ApiError, invalid_argument

API = "https://www.googleapis.com/compute/v1/"
_API_PREFIX_RE = r"(?:https://(?:www|compute)\.googleapis\.com/compute/v1/)?"

INSTANCES = "compute.instances"  # "projects/P/zones/Z/instances/I" -> Instance REST JSON, as GET answers it
INSTANCE_FACTS = "compute.instanceFacts"  # same key -> what is no Instance field: console, boots, image, run start
OPERATIONS = "compute.operations"  # "projects/P/{zones/Z|regions/R|global}/operations/N" -> Operation REST JSON
PENDING = "compute.pending"  # operation key -> {"due", "started", "action", "error"} until the operation is DONE
FIREWALLS = "compute.firewalls"  # "projects/P/global/firewalls/F" -> Firewall REST JSON
REQUEST_IDS = "compute.requestIds"  # "P requestId" -> operation key: a retried request gets the same operation

# Google's fingerprint of nothing (empty metadata, no labels, no tags), as every new resource shows it.
EMPTY_FINGERPRINT = "42WmSpB8rSM="
# Machine and accelerator types carry the zero Unix time in Pacific time (seen in every machineTypes.get answer).
_CATALOGUE_TIMESTAMP = "1969-12-31T16:00:00.000-08:00"
_SERIAL_BUFFER = (
    1024 * 1024
)  # "If the serial console output exceeds the size of the buffer (1 MB)..." (SerialPortOutput)

# Query parameters every Google REST API accepts (https://cloud.google.com/apis/docs/system-parameters).
_SYSTEM_PARAMS = frozenset(
    ["$alt", "alt", "key", "fields", "prettyPrint", "quotaUser", "access_token", "callback", "userIp", "$.xgafv"]
)

# compute_v1 Instance.name docstring and every "Invalid value for field 'resource.name'" answer: RFC 1035 labels.
_NAME_RE = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
_NAME_RULE = "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"
# https://cloud.google.com/compute/docs/metadata/setting-custom-metadata#limitations
_METADATA_KEY_RE = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_METADATA_VALUE_MAX = 256 * 1024
_METADATA_TOTAL_MAX = 512 * 1024
# https://cloud.google.com/compute/docs/containers/migrate-containers: VMs that use the container startup agent
# (metadata key gce-container-declaration) cannot be created from 2026-07-31.
_CONTAINER_AGENT_KEY = "gce-container-declaration"
_CONTAINER_AGENT_END = datetime(2026, 7, 31, tzinfo=UTC).timestamp()
# https://cloud.google.com/compute/docs/instances/limit-vm-runtime: a run duration of 30 seconds to 120 days.
_MAX_RUN_MIN_S = 30
_MAX_RUN_MAX_S = 120 * 24 * 3600


# ---------------------------------------------------------------------------------------------------------------
# The catalogue (emulator catalogue, not authoritative: https://cloud.google.com/compute/docs/gpus/gpu-regions-zones)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accelerator:
    name: str
    description: str
    max_cards: int  # AcceleratorType.maximumCardsPerInstance
    quota_metric: str  # the regional quota it consumes; PREEMPTIBLE_<metric> for Spot VMs
    n1_counts: tuple[int, ...]  # counts an N1 VM may attach as guestAccelerators; () = only in its machine family


# https://cloud.google.com/compute/docs/gpus and https://cloud.google.com/compute/resource-usage#gpu_quota. The
# H100 Mega, H200 and B200 metric names are not in compute_v1's Quota.Metric enum: unconfirmed.
ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in (
        Accelerator("nvidia-tesla-t4", "NVIDIA T4", 4, "NVIDIA_T4_GPUS", (1, 2, 4)),
        Accelerator("nvidia-tesla-v100", "NVIDIA V100", 8, "NVIDIA_V100_GPUS", (1, 2, 4, 8)),
        Accelerator("nvidia-tesla-p100", "NVIDIA Tesla P100", 4, "NVIDIA_P100_GPUS", (1, 2, 4)),
        Accelerator("nvidia-tesla-p4", "NVIDIA Tesla P4", 4, "NVIDIA_P4_GPUS", (1, 2, 4)),
        Accelerator("nvidia-l4", "NVIDIA L4", 8, "NVIDIA_L4_GPUS", ()),
        Accelerator("nvidia-tesla-a100", "NVIDIA A100 40GB", 16, "NVIDIA_A100_GPUS", ()),
        Accelerator("nvidia-a100-80gb", "NVIDIA A100 80GB", 8, "NVIDIA_A100_80GB_GPUS", ()),
        Accelerator("nvidia-h100-80gb", "NVIDIA H100 80GB", 8, "NVIDIA_H100_GPUS", ()),
        Accelerator("nvidia-h100-mega-80gb", "NVIDIA H100 80GB MEGA", 8, "NVIDIA_H100_MEGA_GPUS", ()),
        Accelerator("nvidia-h200-141gb", "NVIDIA H200 141GB", 8, "NVIDIA_H200_GPUS", ()),
        Accelerator("nvidia-b200", "NVIDIA B200", 8, "NVIDIA_B200_GPUS", ()),
    )
}

_T4, _V100, _P100, _P4, _L4 = (
    "nvidia-tesla-t4",
    "nvidia-tesla-v100",
    "nvidia-tesla-p100",
    "nvidia-tesla-p4",
    "nvidia-l4",
)
_A100, _A100_80, _H100, _H100_MEGA = (
    "nvidia-tesla-a100",
    "nvidia-a100-80gb",
    "nvidia-h100-80gb",
    "nvidia-h100-mega-80gb",
)
_H200, _B200 = "nvidia-h200-141gb", "nvidia-b200"

# Zone -> the accelerators it offers (emulator catalogue, not authoritative).
ZONES: dict[str, frozenset[str]] = {
    zone: frozenset(gpus)
    for zone, gpus in {
        "us-central1-a": {_T4, _L4, _V100, _P4, _A100, _A100_80, _H100},
        "us-central1-b": {_T4, _L4, _V100, _A100, _H100, _H200, _B200},
        "us-central1-c": {_T4, _L4, _V100, _P100, _P4, _A100, _A100_80, _H100, _H100_MEGA},
        "us-central1-f": {_T4, _L4, _V100, _P100, _A100},
        "us-east1-b": {_L4, _P100},
        "us-east1-c": {_T4, _L4, _V100, _P100},
        "us-east1-d": {_T4, _L4},
        "us-east4-a": {_T4, _L4, _P4, _A100_80, _H100, _H100_MEGA},
        "us-east4-b": {_T4, _P4, _H100},
        "us-east4-c": {_T4, _L4, _P4, _A100_80, _H100, _H100_MEGA},
        "us-west1-a": {_T4, _L4, _V100, _P100, _H100},
        "us-west1-b": {_T4, _L4, _V100, _P100, _A100},
        "us-west1-c": {_L4},
        "us-west4-a": {_T4, _L4, _A100_80, _H100},
        "us-west4-b": {_T4, _A100},
        "us-west4-c": {_L4, _H100},
        "europe-west1-b": {_T4, _L4, _P100, _H200},
        "europe-west1-c": {_T4, _L4},
        "europe-west1-d": {_T4, _P100},
        "europe-west2-a": {_T4, _L4},
        "europe-west2-b": {_T4, _L4},
        "europe-west2-c": set(),
        "europe-west3-a": set(),
        "europe-west3-b": {_T4},
        "europe-west3-c": set(),
        "europe-west4-a": {_T4, _L4, _V100, _P100, _A100_80, _H100},
        "europe-west4-b": {_T4, _L4, _V100, _P4, _A100, _H100, _H100_MEGA, _B200},
        "europe-west4-c": {_T4, _L4, _V100, _P4, _H100, _H100_MEGA},
        "asia-east1-a": {_T4, _L4, _P100},
        "asia-east1-b": set(),
        "asia-east1-c": {_T4, _L4, _V100},
        "asia-northeast1-a": {_T4, _L4, _A100},
        "asia-northeast1-b": set(),
        "asia-northeast1-c": {_T4, _L4, _A100},
        "asia-south1-a": {_T4},
        "asia-south1-b": {_T4, _H200},
        "asia-south1-c": {_L4},
        "asia-southeast1-a": {_T4, _L4},
        "asia-southeast1-b": {_T4, _L4, _A100, _H100},
        "asia-southeast1-c": {_T4, _L4, _A100_80, _H100},
        "australia-southeast1-a": {_T4, _P4},
        "australia-southeast1-b": {_P4},
        "australia-southeast1-c": {_T4},
        "northamerica-northeast1-a": {_P4},
        "northamerica-northeast1-b": {_P4},
        "northamerica-northeast1-c": {_T4, _P4},
        "southamerica-east1-a": {_T4},
        "southamerica-east1-b": set(),
        "southamerica-east1-c": {_T4},
    }.items()
}


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


REGIONS: dict[str, list[str]] = {}
for _zone in ZONES:
    REGIONS.setdefault(region_of(_zone), []).append(_zone)

# The default auto-mode VPC's subnet per region (https://cloud.google.com/vpc/docs/subnets#ip-ranges).
_DEFAULT_SUBNETS = {
    "us-central1": "10.128.0.0/20",
    "europe-west1": "10.132.0.0/20",
    "us-west1": "10.138.0.0/20",
    "asia-east1": "10.140.0.0/20",
    "us-east1": "10.142.0.0/20",
    "asia-northeast1": "10.146.0.0/20",
    "asia-southeast1": "10.148.0.0/20",
    "us-east4": "10.150.0.0/20",
    "australia-southeast1": "10.152.0.0/20",
    "europe-west2": "10.154.0.0/20",
    "europe-west3": "10.156.0.0/20",
    "southamerica-east1": "10.158.0.0/20",
    "asia-south1": "10.160.0.0/20",
    "northamerica-northeast1": "10.162.0.0/20",
    "europe-west4": "10.164.0.0/20",
    "us-west4": "10.182.0.0/20",
}
# External addresses come from the documentation ranges (RFC 5737): nothing here routes to a real host.
_EXTERNAL_POOLS = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")


@dataclass(frozen=True)
class MachineShape:
    name: str
    cpus: int
    memory_mb: int
    description: str
    gpu: str | None = None  # the built-in accelerator (G2, A2, A3, A4)
    gpu_count: int = 0
    shared_cpu: bool = False

    @property
    def family(self) -> str:
        return self.name.split("-", 1)[0]


def _machine_shapes() -> dict[str, MachineShape]:
    shapes: list[MachineShape] = []
    for cpus in (1, 2, 4, 8, 16, 32, 64, 96):
        ram = cpus * 3.75
        plural = "s" if cpus > 1 else ""
        shapes.append(MachineShape(f"n1-standard-{cpus}", cpus, cpus * 3840, f"{cpus} vCPU{plural}, {ram:g} GB RAM"))
    for cpus in (2, 4, 8, 16, 32, 64, 96):
        shapes.append(MachineShape(f"n1-highmem-{cpus}", cpus, cpus * 6656, f"{cpus} vCPUs, {cpus * 6.5:g} GB RAM"))
    shapes += [
        MachineShape(
            "e2-micro", 2, 1024, "Efficient Instance, 2 vCPU (1/8 shared physical core) and 1 GB RAM", None, 0, True
        ),
        MachineShape(
            "e2-small", 2, 2048, "Efficient Instance, 2 vCPU (1/4 shared physical core) and 2 GB RAM", None, 0, True
        ),
        MachineShape(
            "e2-medium", 2, 4096, "Efficient Instance, 2 vCPU (1/2 shared physical core) and 4 GB RAM", None, 0, True
        ),
    ]
    for cpus in (2, 4, 8, 16, 32):
        shapes.append(
            MachineShape(
                f"e2-standard-{cpus}", cpus, cpus * 4096, f"Efficient Instance, {cpus} vCPUs, {cpus * 4} GB RAM"
            )
        )
    for cpus in (2, 4, 8, 16):
        shapes.append(
            MachineShape(
                f"e2-highmem-{cpus}", cpus, cpus * 8192, f"Efficient Instance, {cpus} vCPUs, {cpus * 8} GB RAM"
            )
        )
    # https://cloud.google.com/compute/docs/accelerator-optimized-machines: (name, vCPUs, GB, GPUs).
    for name, cpus, gb, count in (
        ("g2-standard-4", 4, 16, 1),
        ("g2-standard-8", 8, 32, 1),
        ("g2-standard-12", 12, 48, 1),
        ("g2-standard-16", 16, 64, 1),
        ("g2-standard-24", 24, 96, 2),
        ("g2-standard-32", 32, 128, 1),
        ("g2-standard-48", 48, 192, 4),
        ("g2-standard-96", 96, 384, 8),
    ):
        gpus = f"{count} NVIDIA L4 GPU{'s' if count > 1 else ''}"
        shapes.append(
            MachineShape(name, cpus, gb * 1024, f"Accelerator Optimized: {gpus}, {cpus} vCPUs, {gb}GB RAM", _L4, count)
        )
    for name, cpus, gb, count, gpu in (
        ("a2-highgpu-1g", 12, 85, 1, _A100),
        ("a2-highgpu-2g", 24, 170, 2, _A100),
        ("a2-highgpu-4g", 48, 340, 4, _A100),
        ("a2-highgpu-8g", 96, 680, 8, _A100),
        ("a2-megagpu-16g", 96, 1360, 16, _A100),
        ("a2-ultragpu-1g", 12, 170, 1, _A100_80),
        ("a2-ultragpu-2g", 24, 340, 2, _A100_80),
        ("a2-ultragpu-4g", 48, 680, 4, _A100_80),
        ("a2-ultragpu-8g", 96, 1360, 8, _A100_80),
        ("a3-highgpu-1g", 26, 234, 1, _H100),
        ("a3-highgpu-2g", 52, 468, 2, _H100),
        ("a3-highgpu-4g", 104, 936, 4, _H100),
        ("a3-highgpu-8g", 208, 1872, 8, _H100),
        ("a3-edgegpu-8g", 208, 1872, 8, _H100),
        ("a3-megagpu-8g", 208, 1872, 8, _H100_MEGA),
        ("a3-ultragpu-8g", 224, 2952, 8, _H200),
        ("a4-highgpu-8g", 224, 3968, 8, _B200),
    ):
        label = ACCELERATORS[gpu].description
        description = f"Accelerator Optimized: {count} {label} GPU{'s' if count > 1 else ''}, {cpus} vCPUs, {gb}GB RAM"
        shapes.append(MachineShape(name, cpus, gb * 1024, description, gpu, count))
    return {shape.name: shape for shape in shapes}


MACHINE_TYPES = _machine_shapes()
_CPU_PLATFORM = {
    "n1": "Intel Skylake",
    "e2": "Intel Broadwell",
    "g2": "Intel Cascade Lake",
    "a2": "Intel Cascade Lake",
    "a3": "Intel Sapphire Rapids",
    "a4": "Intel Emerald Rapids",
}
# The regional CPU quota each family draws on (https://cloud.google.com/compute/resource-usage#cpu_quota; G2, A3 and
# A4 on CPUS is unconfirmed).
_CPU_METRIC = {"a2": "A2_CPUS"}
# Disk types each family can boot from (the machine series pages, https://cloud.google.com/compute/docs/machine-resource;
# not authoritative). The API's default boot disk type is pd-standard, which G2, A3 and A4 do not support.
_HYPERDISKS = {"hyperdisk-balanced", "hyperdisk-extreme", "hyperdisk-ml", "hyperdisk-throughput"}
_DISK_TYPES = {"pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", *_HYPERDISKS}
_FAMILY_DISKS = {
    "n1": {"pd-standard", "pd-balanced", "pd-ssd"},
    "e2": {"pd-standard", "pd-balanced", "pd-ssd"},
    "g2": {"pd-balanced", "pd-ssd", "hyperdisk-ml", "hyperdisk-throughput"},
    "a2": {"pd-standard", "pd-balanced", "pd-ssd"},
    "a3": {"pd-balanced", "pd-ssd", *_HYPERDISKS},
    "a4": set(_HYPERDISKS),
    "a3-ultragpu": set(_HYPERDISKS),  # https://cloud.google.com/compute/docs/disks/hyperdisks#machine-type-support
}
# How Compute names a family in its "InstanceTaxonomies are not compatible" answer (seen for G2,
# https://github.com/skypilot-org/skypilot/issues/3933; A3/A4 by analogy, unconfirmed).
_TAXONOMY = {
    "g2": ("GRAPHICS_OPTIMIZED", "GEN_2"),
    "a3": ("ACCELERATOR_OPTIMIZED", "GEN_3"),
    "a4": ("ACCELERATOR_OPTIMIZED", "GEN_4"),
}


def machine_types_in(zone: str) -> list[MachineShape]:
    """N1 and E2 everywhere; an accelerator-optimized type where the zone offers its GPU."""
    offered = ZONES.get(zone, frozenset())
    return [m for m in MACHINE_TYPES.values() if m.gpu is None or m.gpu in offered]


@dataclass(frozen=True)
class CosImage:
    name: str
    family: str
    version: str  # milestone-build, e.g. 117-18613.164.4


# Container-Optimized OS families in cos-cloud (https://cloud.google.com/container-optimized-os/docs/release-notes;
# the versions are the emulator's, not the current ones).
COS_IMAGES = (
    CosImage("cos-stable-117-18613-164-4", "cos-stable", "117-18613.164.4"),
    CosImage("cos-117-18613-164-4", "cos-117-lts", "117-18613.164.4"),
    CosImage("cos-beta-121-18867-0-50", "cos-beta", "121-18867.0.50"),
    CosImage("cos-dev-125-19090-0-0", "cos-dev", "125-19090.0.0"),
)
_COS_PROJECT = "cos-cloud"
_COS_IMAGE_GB = 10


# ---------------------------------------------------------------------------------------------------------------
# Errors: Compute's own shape
# ---------------------------------------------------------------------------------------------------------------

_HTTP_STATUS_NAME = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    503: "UNAVAILABLE",
}


class ComputeError(ApiError):
    """Compute answers ``{"error": {"code", "message", "errors": [{"message", "domain": "global", "reason"}]}}``
    (e.g. ``'[nvidia-tesla-a100, n1-highmem-8] features are not compatible for creating instance.'``, domain global,
    reason badRequest: https://github.com/skypilot-org/skypilot/issues/212), without the ``status`` newer APIs add."""

    def __init__(
        self,
        http_status: int,
        reason: str,
        message: str,
        *,
        location: str | None = None,
        location_type: str | None = None,
    ) -> None:
        super().__init__(_HTTP_STATUS_NAME[http_status], message, http_status=http_status)
        self.reason = reason
        self.location = location
        self.location_type = location_type

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"message": self.message, "domain": "global", "reason": self.reason}
        if self.location:
            entry["location"] = self.location
            entry["locationType"] = self.location_type or "parameter"
        return {"error": {"code": self.http_status, "message": self.message, "errors": [entry]}}


def _invalid_field(path: str, value: Any, why: str) -> ComputeError:
    # "Invalid value for field 'resource.machineType': 'zones/us-central1-a/machineTypes/n1-standard-99'. Machine type
    # with name 'n1-standard-99' does not exist in zone 'us-central1-a'." (400, invalid; terraform users' reports)
    return ComputeError(400, "invalid", f"Invalid value for field '{path}': '{value}'. {why}")


def _bad_request(message: str) -> ComputeError:
    return ComputeError(400, "badRequest", message)


def _not_found(resource: str) -> ComputeError:
    # "The resource 'projects/p/zones/z/instances/i' was not found" (404, notFound).
    return ComputeError(404, "notFound", f"The resource '{resource}' was not found")


def _already_exists(resource: str) -> ComputeError:
    return ComputeError(409, "alreadyExists", f"The resource '{resource}' already exists")


def _not_ready(resource: str) -> ComputeError:
    # Compute's answer to an action the resource's current state does not allow (reason resourceNotReady).
    return ComputeError(400, "resourceNotReady", f"The resource '{resource}' is not ready")


def _incompatible(features: str, machine_type: str) -> ComputeError:
    return _bad_request(f"[{features}, {machine_type}] features are not compatible for creating instance.")


def _malformed(path: str, value: str) -> ComputeError:
    return _invalid_field(path, value, "The URL is malformed.")


# ---------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def _new_id() -> str:
    """A decimal uint64, as Compute's resource and operation ids are (JSON strings)."""
    return str(random.randrange(10**18, 2**63))


def _stable_id(name: str) -> str:
    return str(1000 + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 9000)


def _fingerprint(value: Any) -> str:
    """Compute's fingerprints are 8 bytes, base64; the one of nothing is the well-known ``42WmSpB8rSM=``."""
    if not value:
        return EMPTY_FINGERPRINT
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


def _operation_name(now: float) -> str:
    # Compute's operation names: operation-<ms since epoch>-<13 hex>-<8 hex>-<8 hex>.
    return (
        f"operation-{int(now * 1000)}-{random.getrandbits(52):013x}-{random.getrandbits(32):08x}-"
        f"{random.getrandbits(32):08x}"
    )


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


def _caller_email(caller: str) -> str:
    return caller.split(":", 1)[1] if ":" in caller else ""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _enum_class_name(field_name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in field_name.rstrip("_").split("_"))


def _check_enums(doc: Any, message_type: Any, path: str, snake_path: str) -> None:
    """Compute's enum fields are strings in compute_v1; Google refuses values outside the enum the field documents."""
    if not isinstance(doc, dict):
        return
    for fd in message_type.pb().DESCRIPTOR.fields:
        if fd.json_name not in doc:
            continue
        value = doc[fd.json_name]
        camel = f"{path}.{fd.json_name}"
        snake = f"{snake_path}.{fd.name.rstrip('_')}"
        if fd.message_type is not None:
            if fd.message_type.GetOptions().map_entry:
                continue
            nested = getattr(compute_v1, fd.message_type.name, None)
            if nested is None:
                continue
            if isinstance(value, list):
                for index, item in enumerate(value):
                    _check_enums(item, nested, f"{camel}[{index}]", f"{snake}[{index}]")
            else:
                _check_enums(value, nested, camel, snake)
            continue
        enum_type = getattr(message_type, _enum_class_name(fd.name), None)
        if not isinstance(enum_type, enum.EnumMeta):
            continue
        allowed = [name for name in enum_type.__members__ if not name.startswith("UNDEFINED_")]
        for item in value if isinstance(value, list) else [value]:
            if item not in allowed:
                # Google's front end on a bad enum name (the ESF form; the exact type URL is unconfirmed).
                type_url = f"type.googleapis.com/google.cloud.compute.v1.{message_type.__name__}.{enum_type.__name__}"
                message = f"Invalid value at '{snake}' ({type_url}), \"{item}\""
                raise invalid_argument(message, field=snake, description=message)


def _parse(message_type: Any, req: Request, field: str = "resource") -> dict[str, Any]:
    """Strict parse with the library's type, then the enum check; returns the REST JSON as parsed."""
    message = protos.parse(message_type, req.body, field=field)
    doc = protos.to_json(message)
    _check_enums(doc, message_type, field, field)
    return doc


def _check_query(req: Request, request_type: Any, *, path: tuple[str, ...], body: str | None = None) -> None:
    """Refuse query parameters the request message does not have, the way Google's front end does."""
    allowed = {fd.json_name for fd in request_type.pb().DESCRIPTOR.fields if fd.name not in path and fd.name != body}
    for name in req.query:
        if name not in allowed and name not in _SYSTEM_PARAMS:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                f"Field '{name}' could not be found in request message."
            )


def _int_param(req: Request, name: str, default: int | None = None) -> int | None:
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise invalid_argument(f"Invalid value at '{_snake(name)}' (TYPE_INT64), \"{raw}\"") from exc


def _project_of_member(email: str, project: str) -> str:
    match = re.fullmatch(r"[^@]+@([a-z][-a-z0-9]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com", email)
    return match.group(1) if match else project


# ---------------------------------------------------------------------------------------------------------------
# List filters (compute_v1 *ListRequest.filter docstring: AIP-160 comparisons, or eq/ne with RE2 regular expressions)
# ---------------------------------------------------------------------------------------------------------------

Predicate = Callable[[dict[str, Any]], bool]


class _FilterError(Exception):
    pass


class _FilterParser:
    """``name = nvidia-l4``, ``name eq nvidia-l.*``, ``(a = 1) (b != "x")``, ``a = 1 AND b = 2 OR c = 3``, ``k:*``.

    As in the docstring's example, OR binds tighter than the (implicit or explicit) AND. ``:`` compares like ``=``,
    and also matches the last path segment of a URL-valued field (``zone:europe-west4-a``): an approximation."""

    _FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
    _OP_RE = re.compile(r"!=|>=|<=|=|>|<|:|eq\b|ne\b")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.kinds: set[str] = set()

    def parse(self) -> Predicate:
        predicate = self._sequence()
        self._space()
        if self.pos != len(self.text):
            raise _FilterError(f"unexpected {self.text[self.pos :]!r}")
        if "regex" in self.kinds and "aip" in self.kinds:
            raise _FilterError("regular expressions and AIP-160 comparisons cannot be mixed")
        return predicate

    def _space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _keyword(self, word: str) -> bool:
        self._space()
        end = self.pos + len(word)
        if self.text[self.pos : end] == word and (end == len(self.text) or not self.text[end].isalnum()):
            self.pos = end
            return True
        return False

    def _sequence(self) -> Predicate:
        terms = [self._disjunction()]
        while True:
            self._space()
            if self.pos >= len(self.text) or self.text[self.pos] == ")":
                break
            self._keyword("AND")
            terms.append(self._disjunction())
        return lambda doc: all(term(doc) for term in terms)

    def _disjunction(self) -> Predicate:
        terms = [self._unary()]
        while self._keyword("OR"):
            terms.append(self._unary())
        return lambda doc: any(term(doc) for term in terms)

    def _unary(self) -> Predicate:
        if self._keyword("NOT"):
            inner = self._primary()
            return lambda doc: not inner(doc)
        self._space()
        if self.text.startswith("-", self.pos):
            self.pos += 1
            negated = self._primary()
            return lambda doc: not negated(doc)
        return self._primary()

    def _primary(self) -> Predicate:
        self._space()
        if self.text.startswith("(", self.pos):
            self.pos += 1
            inner = self._sequence()
            self._space()
            if not self.text.startswith(")", self.pos):
                raise _FilterError("missing )")
            self.pos += 1
            return inner
        match = self._FIELD_RE.match(self.text, self.pos)
        if not match:
            raise _FilterError(f"expected a field name at {self.text[self.pos :]!r}")
        field = match.group(0)
        self.pos = match.end()
        self._space()
        op_match = self._OP_RE.match(self.text, self.pos)
        if not op_match:
            raise _FilterError(f"expected an operator after {field}")
        op = op_match.group(0)
        self.pos = op_match.end()
        self._space()
        value = self._value()
        self.kinds.add("regex" if op in ("eq", "ne") else "aip")
        return _comparison(field, op, value)

    def _value(self) -> str:
        if self.pos < len(self.text) and self.text[self.pos] in "\"'":
            quote = self.text[self.pos]
            end = self.pos + 1
            out = []
            while end < len(self.text) and self.text[end] != quote:
                if self.text[end] == "\\" and end + 1 < len(self.text):
                    end += 1
                out.append(self.text[end])
                end += 1
            if end >= len(self.text):
                raise _FilterError("unterminated string")
            self.pos = end + 1
            return "".join(out)
        start = self.pos
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char.isspace() and depth == 0:
                break
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            self.pos += 1
        if start == self.pos:
            raise _FilterError("expected a value")
        return self.text[start : self.pos]


def _field_values(doc: Any, path: str) -> list[Any]:
    values = [doc]
    for part in path.split("."):
        next_values: list[Any] = []
        for value in values:
            if isinstance(value, dict) and part in value:
                found = value[part]
                next_values.extend(found if isinstance(found, list) else [found])
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and part in item:
                        found = item[part]
                        next_values.extend(found if isinstance(found, list) else [found])
        values = next_values
    return values


def _equals(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return wanted.lower() == str(actual).lower()
    if isinstance(actual, (int, float)) or (isinstance(actual, str) and re.fullmatch(r"-?\d+(\.\d+)?", actual)):
        try:
            return float(actual) == float(wanted)
        except ValueError:
            return False
    text = str(actual)
    if "*" in wanted:
        return re.fullmatch(".*".join(re.escape(p) for p in wanted.split("*")), text) is not None
    return text == wanted


def _compare(actual: Any, op: str, wanted: str) -> bool:
    try:
        left: Any = float(actual)
        right: Any = float(wanted)
    except (TypeError, ValueError):
        left, right = str(actual), wanted
    return bool({">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op])


def _comparison(field: str, op: str, wanted: str) -> Predicate:
    def test(doc: dict[str, Any]) -> bool:
        values = _field_values(doc, field)
        if op in ("eq", "ne"):
            try:
                pattern = re.compile(wanted)
            except re.error:
                return False
            hit = any(pattern.fullmatch(str(v).lower() if isinstance(v, bool) else str(v)) for v in values)
            return hit if op == "eq" else not hit
        if op == ":":
            if wanted == "*":
                return bool(values)
            return any(_equals(v, wanted) or str(v).rsplit("/", 1)[-1] == wanted for v in values)
        if op == "=":
            return any(_equals(v, wanted) for v in values)
        if op == "!=":
            return not any(_equals(v, wanted) for v in values)
        return any(_compare(v, op, wanted) for v in values)

    return test


def _filter(req: Request) -> Predicate:
    text = (req.param("filter") or "").strip()
    if not text:
        return lambda doc: True
    try:
        return _FilterParser(text).parse()
    except _FilterError as exc:
        # Compute's answer to a filter it cannot read (wording unconfirmed).
        raise _invalid_field("filter", text, f"Invalid list filter expression: {exc}.") from exc


def _list_response(kind: str, path: str, items: list[Any], req: Request) -> dict[str, Any]:
    """Compute's list document: ``kind``, ``id`` and ``selfLink`` (the collection's path), ``items`` and a
    ``nextPageToken``; paging by ``maxResults`` 0-500 (default 500)."""
    size = _int_param(req, "maxResults", 500) or 500
    if size < 0 or size > 500:
        # The documented range of maxResults (compute_v1 List*Request.max_results); wording unconfirmed.
        raise _invalid_field("maxResults", size, "Must be less than or equal to 500")
    answer: dict[str, Any] = {"kind": kind, "id": path, "selfLink": API + path}
    answer.update(paginate(items, req, key="items", size_param="maxResults", default=500, maximum=500))
    return answer


def _order(items: list[dict[str, Any]], req: Request) -> list[dict[str, Any]]:
    order_by = (req.param("orderBy") or "").strip()
    if not order_by or order_by == "name":
        return sorted(items, key=lambda d: str(d.get("name", "")))
    if order_by == "creationTimestamp desc":
        return sorted(items, key=lambda d: str(d.get("creationTimestamp", "")), reverse=True)
    # "Currently, only sorting by name or creationTimestamp desc is supported." (List*Request.order_by docstring)
    raise _invalid_field("orderBy", order_by, "Only sorting by name or creationTimestamp desc is supported.")


# ---------------------------------------------------------------------------------------------------------------
# The console of an emulated Container-Optimized OS boot, rendered from the instance's user-data
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Unit:
    name: str
    description: str
    unit_type: str
    after: list[str]
    requires: list[str]
    exec_start_pre: list[str]
    exec_start: list[str]


def _parse_unit(name: str, text: str) -> _Unit:
    values: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values.setdefault(key.strip(), []).append(value.strip())

    def words(key: str) -> list[str]:
        return [w for v in values.get(key, []) for w in v.split()]

    return _Unit(
        name=name,
        description=(values.get("Description") or [name])[-1],
        unit_type=(values.get("Type") or ["simple"])[-1],
        after=words("After"),
        requires=words("Requires") + words("Wants"),
        exec_start_pre=values.get("ExecStartPre", []),
        exec_start=values.get("ExecStart", []),
    )


def _file_content(entry: dict[str, Any]) -> str:
    content = str(entry.get("content", ""))
    if str(entry.get("encoding", "")).lower() in ("b64", "base64"):
        try:
            return base64.b64decode(content).decode(errors="replace")
        except ValueError:
            return ""
    return content


def _units_to_start(runcmd: list[Any]) -> list[str]:
    started: list[str] = []
    for command in runcmd:
        words = command if isinstance(command, list) else str(command).split()
        words = [str(w) for w in words]
        if len(words) < 3 or words[0].rsplit("/", 1)[-1] != "systemctl":
            continue
        verb = words[1]
        names = [w for w in words[2:] if not w.startswith("-")]
        if verb in ("start", "restart") or (verb == "enable" and "--now" in words):
            started += [n if "." in n else f"{n}.service" for n in names]
    return started


def _start_order(wanted: list[str], units: dict[str, _Unit]) -> list[str]:
    """What systemd starts for ``wanted``: their Requires/Wants too, each after the units it is ordered after."""
    closure: list[str] = []

    def add(name: str) -> None:
        if name in closure or name not in units:
            return
        closure.append(name)
        for dependency in units[name].requires:
            add(dependency)

    for name in wanted:
        add(name)
    ordered: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in ordered or name in trail:
            return
        for before in units[name].after + units[name].requires:
            if before in closure:
                visit(before, (*trail, name))
        ordered.append(name)

    for name in closure:
        visit(name, ())
    return ordered


def render_boot_console(instance: dict[str, Any], image: str, boot: int) -> str:
    """The serial console of one emulated boot: kernel and systemd lines, then what cloud-init would do with the
    instance's ``user-data`` on Container-Optimized OS, in systemd's start order. Nothing in it was executed."""
    clock = [0.0]
    lines = [
        f"deployer emulator: boot {boot} of instance {instance['name']}: this console is rendered from the "
        "instance's metadata; no VM boots, no command runs and no container runs on an emulated VM."
    ]

    def log(text: str, step: float = 0.137) -> None:
        clock[0] += step
        lines.append(f"[{clock[0]:12.6f}] {text}")

    log(f"Linux version 6.1.100+ (Container-Optimized OS {image}, emulated)", 0.0)
    log("systemd[1]: Detected virtualization kvm.")
    log(f"systemd[1]: Hostname set to <{instance['name']}>.")
    for accelerator in instance.get("guestAccelerators", []):
        name = str(accelerator.get("acceleratorType", "")).rsplit("/", 1)[-1]
        for index in range(int(accelerator.get("acceleratorCount", 0))):
            label = ACCELERATORS[name].description if name in ACCELERATORS else name
            log(f"pci 0000:00:{4 + index:02x}.0: NVIDIA device ({label}), no driver loaded yet")
    log("systemd[1]: Reached target network-online.target.")
    items = {i.get("key"): str(i.get("value", "")) for i in instance.get("metadata", {}).get("items", [])}
    user_data = items.get("user-data")
    if user_data is None:
        log("cloud-init[742]: no user-data in the instance metadata: nothing to configure.")
    elif not user_data.lstrip().startswith("#cloud-config"):
        log("cloud-init[742]: user-data is not a #cloud-config document: it would run as a script (not executed).")
    else:
        _render_cloud_config(user_data, log)
    log("systemd[1]: Reached target multi-user.target.")
    return "\n".join(lines) + "\n"


def _render_cloud_config(user_data: str, log: Callable[..., None]) -> None:
    import yaml

    log("cloud-init[742]: Cloud-init v. 24.1 running 'init' (emulated): reading user-data from the metadata server.")
    try:
        config = yaml.safe_load(user_data)
    except yaml.YAMLError as exc:
        log(f"cloud-init[742]: WARNING: failed to load the user-data as YAML: {str(exc).splitlines()[0]}")
        return
    if not isinstance(config, dict):
        log("cloud-init[742]: WARNING: the user-data is not a YAML mapping: nothing to do.")
        return
    for user in config.get("users") or []:
        name = user.get("name") if isinstance(user, dict) else user
        log(f"cloud-init[742]: users: creating user {name}")
    units: dict[str, _Unit] = {}
    for entry in config.get("write_files") or []:
        if not isinstance(entry, dict) or "path" not in entry:
            continue
        path = str(entry["path"])
        log(f"cloud-init[742]: write_files: wrote {path}")
        if path.startswith("/etc/systemd/system/") and path.endswith((".service", ".target")):
            name = path.rsplit("/", 1)[-1]
            units[name] = _parse_unit(name, _file_content(entry))
    for command in config.get("bootcmd") or []:
        log(f"cloud-init[742]: bootcmd: {_command_text(command)} (not executed)")
    runcmd = config.get("runcmd") or []
    for command in runcmd:
        log(f"cloud-init[742]: runcmd: {_command_text(command)} (not executed)")
    for name in _start_order(_units_to_start(list(runcmd)), units):
        unit = units[name]
        log(f"systemd[1]: Starting {name} - {unit.description}...")
        for command in unit.exec_start_pre:
            log(f"systemd[1]: {name}: ExecStartPre={command} (not executed)")
        for command in unit.exec_start:
            log(f"systemd[1]: {name}: ExecStart={command} (not executed)")
            if "cos-extensions" in command and "install" in command and "gpu" in command:
                log("cos-extensions[1187]: Installing GPU drivers (emulated: no driver is installed).", 1.5)
                log("cos-extensions[1187]: GPU drivers installed (emulated).", 30.0)
            if re.search(r"\bdocker\b.*\brun\b", command):
                log(f"systemd[1]: {name}: emulated VM: the container was not pulled and does not run.")
        verb = "Finished" if unit.unit_type == "oneshot" else "Started"
        log(f"systemd[1]: {verb} {name} - {unit.description}.")


def _command_text(command: Any) -> str:
    if isinstance(command, list):
        return " ".join(str(part) for part in command)
    return str(command)


# ---------------------------------------------------------------------------------------------------------------
# The surface
# ---------------------------------------------------------------------------------------------------------------

_INSTANCE_OUTPUT_ONLY = (
    "id",
    "kind",
    "creationTimestamp",
    "selfLink",
    "status",
    "statusMessage",
    "zone",
    "cpuPlatform",
    "labelFingerprint",
    "fingerprint",
    "lastStartTimestamp",
    "lastStopTimestamp",
    "lastSuspendedTimestamp",
    "satisfiesPzi",
    "satisfiesPzs",
    "startRestricted",
    "resourceStatus",
)
_CONSUMING = ("PROVISIONING", "STAGING", "RUNNING", "STOPPING", "REPAIRING")


@dataclass(frozen=True)
class _Use:
    scope: str  # a region, or "global"
    metric: str
    amount: float


class ComputeEngine:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # -- state -------------------------------------------------------------------------------------------------
    def _table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.emulator.state.table(name)

    def _setting(self, name: str, default: float) -> float:
        try:
            return float(self.emulator.settings.get(name, default))
        except (TypeError, ValueError):
            return default

    def _now(self) -> float:
        return time.time()

    def _zone_or_404(self, project: str, zone: str) -> None:
        if zone not in ZONES:
            raise _not_found(f"projects/{project}/zones/{zone}")

    def _region_or_404(self, project: str, region: str) -> None:
        if region not in REGIONS:
            raise _not_found(f"projects/{project}/regions/{region}")

    # -- time: finishing due operations, ending runs at maxRunDuration ------------------------------------------
    def advance(self) -> bool:
        """Finish the operations that are due and apply scheduled terminations; callers hold the state lock.
        True when something changed."""
        now = self._now()
        changed = False
        pending = self._table(PENDING)
        for key in sorted(pending, key=lambda k: float(pending[k]["due"])):
            entry = pending[key]
            action = entry.get("action") or {}
            if action.get("kind") in ("insert", "start"):
                instance = self._table(INSTANCES).get(str(action.get("instance")))
                halfway = float(entry["started"]) + (float(entry["due"]) - float(entry["started"])) / 2
                if instance is not None and now >= halfway and instance.get("status") == "PROVISIONING":
                    instance["status"] = "STAGING"
                    changed = True
            if now < float(entry["due"]):
                continue
            del pending[key]
            self._finish(key, entry, now)
            changed = True
        return self._end_expired_runs(now) or changed

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the lock for a read; time may have finished operations, which are saved (reads save nothing else)."""
        with self.emulator.state.lock:
            changed = self.advance()
            try:
                yield
            finally:
                if changed:
                    self.emulator.state.save()

    def _finish(self, key: str, entry: dict[str, Any], now: float) -> None:
        operation = self._table(OPERATIONS).get(key)
        action = entry.get("action") or {}
        if entry.get("error") is None and action:
            self._apply(action, now)
        if operation is None:
            return
        operation.update(status="DONE", progress=100, endTime=_timestamp(now))
        error = entry.get("error")
        if error is not None:
            operation["error"] = {"errors": [error["error"]]}
            operation["httpErrorStatusCode"] = error["httpErrorStatusCode"]
            operation["httpErrorMessage"] = error["httpErrorMessage"]

    def _apply(self, action: dict[str, Any], now: float) -> None:
        kind = action["kind"]
        key = str(action.get("instance", ""))
        instances = self._table(INSTANCES)
        instance = instances.get(key)
        facts = self._table(INSTANCE_FACTS).setdefault(key, {})
        if instance is None:
            return
        if kind in ("insert", "start"):
            instance["status"] = "RUNNING"
            instance["cpuPlatform"] = _CPU_PLATFORM.get(self._shape(instance).family, "Intel Broadwell")
            instance["lastStartTimestamp"] = _timestamp(now)
            facts["runStart"] = now
            self._boot(key, instance, facts)
        elif kind == "reset":
            facts["runStart"] = facts.get("runStart", now)
            self._boot(key, instance, facts)
        elif kind == "stop":
            self._terminate(instance, facts, now)
        elif kind == "delete":
            del instances[key]
            self._table(INSTANCE_FACTS).pop(key, None)
            return
        elif kind == "setMetadata":
            instance["metadata"] = action["metadata"]
        elif kind == "setScheduling":
            instance["scheduling"] = action["scheduling"]
        instance["fingerprint"] = _fingerprint({k: v for k, v in instance.items() if k != "fingerprint"})

    def _terminate(self, instance: dict[str, Any], facts: dict[str, Any], now: float) -> None:
        instance["status"] = "TERMINATED"
        instance["cpuPlatform"] = "Unknown CPU Platform"
        instance["lastStopTimestamp"] = _timestamp(now)
        facts.pop("runStart", None)
        # An ephemeral external address is released when the VM stops; it gets a new one at start
        # (https://cloud.google.com/compute/docs/ip-addresses#ephemeraladdress).
        self._release_addresses(instance, facts)

    def _end_expired_runs(self, now: float) -> bool:
        advance = self._setting("compute_clock_advance_s", 0.0)
        changed = False
        instances = self._table(INSTANCES)
        facts_table = self._table(INSTANCE_FACTS)
        for key in list(instances):
            instance = instances[key]
            scheduling = instance.get("scheduling", {})
            limit = scheduling.get("maxRunDuration")
            facts = facts_table.setdefault(key, {})
            if instance.get("status") != "RUNNING" or not limit or "runStart" not in facts:
                continue
            ends = float(facts["runStart"]) + int(limit.get("seconds", 0)) + int(limit.get("nanos", 0)) / 1e9
            if now + advance < ends:
                continue
            changed = True
            action = scheduling.get("instanceTerminationAction", "STOP")
            self._append_console(
                facts, f"deployer emulator: maxRunDuration reached: instanceTerminationAction {action}.\n"
            )
            if action == "DELETE":
                del instances[key]
                facts_table.pop(key, None)
            else:
                self._terminate(instance, facts, ends)
        return changed

    # -- console -------------------------------------------------------------------------------------------------
    def _boot(self, key: str, instance: dict[str, Any], facts: dict[str, Any]) -> None:
        facts["boots"] = int(facts.get("boots", 0)) + 1
        self._append_console(facts, render_boot_console(instance, str(facts.get("image", "")), facts["boots"]))

    @staticmethod
    def _append_console(facts: dict[str, Any], text: str) -> None:
        raw = (str(facts.get("console", "")) + text).encode()
        dropped = int(facts.get("consoleDropped", 0))
        if len(raw) > _SERIAL_BUFFER:
            cut = len(raw) - _SERIAL_BUFFER
            while cut < len(raw) and raw[cut] & 0xC0 == 0x80:  # never split a UTF-8 character
                cut += 1
            raw, dropped = raw[cut:], dropped + cut
        facts["console"] = raw.decode()
        facts["consoleDropped"] = dropped

    # -- operations ----------------------------------------------------------------------------------------------
    def _start_operation(
        self,
        req: Request,
        *,
        project: str,
        scope: str,
        operation_type: str,
        target: str,
        target_id: str | None,
        action: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a RUNNING ``compute#operation`` in ``scope`` (``zones/Z``, ``regions/R`` or ``global``); it is DONE
        ``compute_operation_s`` later, after ``action`` is applied, or with ``error``. Callers hold the lock."""
        now = self._now()
        name = _operation_name(now)
        key = f"projects/{project}/{scope}/operations/{name}"
        doc: dict[str, Any] = {
            "kind": "compute#operation",
            "id": _new_id(),
            "name": name,
            "operationType": operation_type,
            "targetLink": API + target,
            "status": "RUNNING",
            "progress": 0,
            "insertTime": _timestamp(now),
            "startTime": _timestamp(now),
            "selfLink": API + key,
        }
        if target_id:
            doc["targetId"] = target_id
        if _caller_email(req.caller):
            doc["user"] = _caller_email(req.caller)
        if scope.startswith("zones/"):
            doc["zone"] = API + f"projects/{project}/{scope}"
        elif scope.startswith("regions/"):
            doc["region"] = API + f"projects/{project}/{scope}"
        request_id = req.param("requestId")
        if request_id:
            doc["clientOperationId"] = request_id
            self._table(REQUEST_IDS)[f"{project} {request_id}"] = {"operation": key}
        self._table(OPERATIONS)[key] = doc
        self._table(PENDING)[key] = {
            "due": now + self._setting("compute_operation_s", 0.2),
            "started": now,
            "action": action,
            "error": error,
        }
        return _copy(doc)

    def _zone_operation(
        self,
        req: Request,
        project: str,
        zone: str,
        operation_type: str,
        key: str,
        target_id: str,
        action: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self._start_operation(
            req,
            project=project,
            scope=f"zones/{zone}",
            operation_type=operation_type,
            target=key,
            target_id=target_id,
            action=action,
            error=error,
        )

    def _replayed(self, project: str, req: Request) -> dict[str, Any] | None:
        """A request with a requestId Compute has seen answers the first request's operation (requestId docstring)."""
        request_id = req.param("requestId")
        if not request_id:
            return None
        seen = self._table(REQUEST_IDS).get(f"{project} {request_id}")
        if seen is None:
            return None
        operation = self._table(OPERATIONS).get(str(seen["operation"]))
        return _copy(operation) if operation else None

    def get_operation(self, req: Request, project: str, scope: str, operation: str, kind: str) -> dict[str, Any]:
        key = f"projects/{project}/{scope}/operations/{operation}"
        self.emulator.authorize(req, f"compute.{kind}Operations.get", key)
        with self._reading():
            doc = self._table(OPERATIONS).get(key)
            if doc is None:
                raise _not_found(key)
            return _copy(doc)

    def wait_operation(self, req: Request, project: str, scope: str, operation: str, kind: str) -> dict[str, Any]:
        """Returns when the operation is DONE or about two minutes have passed ("the request approaches the 2 minute
        deadline", ZoneOperations.Wait docstring), not done then."""
        key = f"projects/{project}/{scope}/operations/{operation}"
        self.emulator.authorize(req, f"compute.{kind}Operations.get", key)
        deadline = time.monotonic() + self._setting("compute_wait_timeout_s", 120.0)
        while True:
            with self._reading():
                doc = self._table(OPERATIONS).get(key)
                if doc is None:
                    raise _not_found(key)
                if doc.get("status") == "DONE" or time.monotonic() >= deadline:
                    return _copy(doc)
                due = self._table(PENDING).get(key, {}).get("due", 0.0)
            time.sleep(min(0.05, max(0.0, float(due) - self._now())) or 0.005)

    def list_operations(self, req: Request, project: str, scope: str, kind: str) -> dict[str, Any]:
        prefix = f"projects/{project}/{scope}/operations/"
        self.emulator.authorize(req, f"compute.{kind}Operations.list", f"projects/{project}/{scope}")
        predicate = _filter(req)
        with self._reading():
            docs = [_copy(d) for k, d in self._table(OPERATIONS).items() if k.startswith(prefix) and predicate(d)]
        return _list_response("compute#operationList", f"projects/{project}/{scope}/operations", _order(docs, req), req)

    def delete_operation(self, req: Request, project: str, scope: str, operation: str, kind: str) -> dict[str, Any]:
        key = f"projects/{project}/{scope}/operations/{operation}"
        self.emulator.authorize(req, f"compute.{kind}Operations.delete", key)
        with self.emulator.mutation():
            self.advance()
            if self._table(OPERATIONS).pop(key, None) is None:
                raise _not_found(key)
            self._table(PENDING).pop(key, None)
        return {}

    # -- quota -----------------------------------------------------------------------------------------------------
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
            cpu_metric = _CPU_METRIC.get(shape.family, "CPUS")
            if spot and self._limit(region, "PREEMPTIBLE_CPUS") > 0:
                cpu_metric = "PREEMPTIBLE_CPUS"
            uses += [_Use(region, cpu_metric, shape.cpus), _Use("global", "CPUS_ALL_REGIONS", shape.cpus)]
            if any(nic.get("accessConfigs") for nic in instance.get("networkInterfaces", [])):
                uses.append(_Use(region, "IN_USE_ADDRESSES", 1))
        uses.append(_Use(region, "INSTANCES", 1))
        # Disks count while the instance exists, running or not (https://cloud.google.com/compute/resource-usage).
        for disk, disk_type in zip(instance.get("disks", []), facts.get("diskTypes", []), strict=False):
            if disk_type not in _HYPERDISKS:
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

    # -- addresses -----------------------------------------------------------------------------------------------
    def _used_external(self) -> set[str]:
        used: set[str] = set()
        for instance in self._table(INSTANCES).values():
            for nic in instance.get("networkInterfaces", []):
                for config in nic.get("accessConfigs", []):
                    if config.get("natIP"):
                        used.add(str(config["natIP"]))
        return used

    def _assign_external(self, instance: dict[str, Any]) -> None:
        used = self._used_external()
        free = (str(ip) for pool in _EXTERNAL_POOLS for ip in ipaddress.ip_network(pool).hosts() if str(ip) not in used)
        for nic in instance.get("networkInterfaces", []):
            for config in nic.get("accessConfigs", []):
                if not config.get("natIP"):
                    address = next(free, None)
                    if address is None:
                        raise ComputeError(503, "resourceExhausted", "The emulator has no external address left.")
                    config["natIP"] = address

    @staticmethod
    def _release_addresses(instance: dict[str, Any], facts: dict[str, Any]) -> None:
        """Ephemeral external addresses go back to the pool; reserved (static) ones stay with the instance."""
        static = set(facts.get("staticAddresses", []))
        for nic in instance.get("networkInterfaces", []):
            for config in nic.get("accessConfigs", []):
                if config.get("natIP") not in static:
                    config.pop("natIP", None)

    def _internal_ip(self, project: str, region: str) -> str:
        used = {
            str(nic.get("networkIP"))
            for key, instance in self._table(INSTANCES).items()
            if key.startswith(f"projects/{project}/")
            for nic in instance.get("networkInterfaces", [])
        }
        subnet = ipaddress.ip_network(_DEFAULT_SUBNETS.get(region, "10.200.0.0/20"))
        for index, host in enumerate(subnet.hosts()):
            if index >= 1 and str(host) not in used:  # .1 is the subnet's gateway
                return str(host)
        raise ComputeError(503, "resourceExhausted", f"The default subnet of {region} has no address left.")

    # -- instances: validation -------------------------------------------------------------------------------------
    @staticmethod
    def _shape(instance: dict[str, Any]) -> MachineShape:
        return MACHINE_TYPES[str(instance["machineType"]).rsplit("/", 1)[-1]]

    def _resolve_machine_type(self, value: str, zone: str, path: str) -> MachineShape:
        match = re.fullmatch(_API_PREFIX_RE + r"(?:projects/[^/]+/)?zones/([^/]+)/machineTypes/([^/]+)", value)
        if match is None:
            raise _malformed(path, value)
        given_zone, name = match.group(1), match.group(2)
        shape = MACHINE_TYPES.get(name)
        if given_zone != zone or shape is None or shape not in machine_types_in(zone):
            raise _invalid_field(path, value, f"Machine type with name '{name}' does not exist in zone '{zone}'.")
        return shape

    def _resolve_image(self, project: str, value: str, path: str) -> CosImage:
        match = re.fullmatch(
            _API_PREFIX_RE
            + r"(?:projects/(?P<project>[^/]+)/)?global/images/(?:family/(?P<family>[^/]+)|(?P<image>[^/]+))",
            value,
        )
        if match is None:
            raise _malformed(path, value)
        image_project = match.group("project") or project
        found = _find_image(image_project, family=match.group("family"), name=match.group("image"))
        if found is None:
            # "Invalid value for field 'resource.disks[0].initializeParams.sourceImage': '...'. The referenced image
            # resource cannot be found." (400, invalid)
            raise _invalid_field(path, value, "The referenced image resource cannot be found.")
        return found

    def _normalize_disks(
        self, project: str, zone: str, name: str, shape: MachineShape, disks: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[str], CosImage]:
        if not disks:
            # Unconfirmed wording: an instance needs a boot disk.
            raise _invalid_field("resource.disks", "", "At least one boot disk must be specified.")
        boots = [i for i, d in enumerate(disks) if d.get("boot")]
        if len(boots) > 1:
            raise _invalid_field(f"resource.disks[{boots[1]}].boot", "true", "Only one boot disk may be specified.")
        boot_index = boots[0] if boots else 0
        image: CosImage | None = None
        normalized: list[dict[str, Any]] = []
        disk_types: list[str] = []
        for index, disk in enumerate(disks):
            path = f"resource.disks[{index}]"
            if disk.get("source"):
                # The emulator keeps no standalone disks: a disk to attach does not exist.
                raise _not_found(str(disk["source"]).removeprefix(API))
            params = disk.get("initializeParams", {})
            size = int(params.get("diskSizeGb", 0) or 0)
            if index == boot_index:
                if not params.get("sourceImage"):
                    raise _invalid_field(
                        f"{path}.initializeParams.sourceImage", "", "A boot disk must be created from an image."
                    )
                image = self._resolve_image(project, str(params["sourceImage"]), f"{path}.initializeParams.sourceImage")
                size = size or _COS_IMAGE_GB
                if size < _COS_IMAGE_GB:
                    # Unconfirmed wording; the rule is AttachedDiskInitializeParams.disk_size_gb's docstring.
                    raise _invalid_field(
                        f"{path}.initializeParams.diskSizeGb",
                        size,
                        f"Requested disk size cannot be smaller than the image size ({_COS_IMAGE_GB} GB)",
                    )
            else:
                size = size or 500  # "If you do not specify a sourceImage, the default disk size is 500 GB."
                if size < 10:
                    raise _invalid_field(
                        f"{path}.initializeParams.diskSizeGb", size, "The size must be at least 10 GB."
                    )
            disk_type = self._resolve_disk_type(project, zone, str(params.get("diskType") or ""), path)
            series = "a3-ultragpu" if shape.name.startswith("a3-ultragpu-") else shape.family
            if disk_type not in _FAMILY_DISKS.get(series, _DISK_TYPES):
                raise _bad_request(_taxonomy_message(disk_type, shape))
            disk_name = str(params.get("diskName") or (name if index == boot_index else f"{name}-{index}"))
            doc: dict[str, Any] = {
                "kind": "compute#attachedDisk",
                "type": disk.get("type", "PERSISTENT"),
                "mode": disk.get("mode", "READ_WRITE"),
                "source": API + f"projects/{project}/zones/{zone}/disks/{disk_name}",
                "deviceName": disk.get("deviceName") or f"persistent-disk-{index}",
                "index": index,
                "boot": index == boot_index,
                "autoDelete": bool(disk.get("autoDelete", False)),
                "interface": disk.get("interface", "SCSI"),
                "diskSizeGb": str(size),
                "architecture": "X86_64",
            }
            if index == boot_index and image is not None:
                doc["licenses"] = [API + f"projects/{_COS_PROJECT}/global/licenses/cos"]
                doc["guestOsFeatures"] = _COS_GUEST_OS_FEATURES
            normalized.append(doc)
            disk_types.append(disk_type)
        assert image is not None
        return normalized, disk_types, image

    @staticmethod
    def _resolve_disk_type(project: str, zone: str, value: str, path: str) -> str:
        if not value:
            # The API's default boot disk type (AttachedDiskInitializeParams.diskType in the REST reference).
            return "pd-standard"
        match = re.fullmatch(_API_PREFIX_RE + r"(?:projects/[^/]+/)?zones/([^/]+)/diskTypes/([^/]+)", value)
        if match is None:
            raise _malformed(f"{path}.initializeParams.diskType", value)
        if match.group(1) != zone or match.group(2) not in _DISK_TYPES:
            raise _not_found(f"projects/{project}/zones/{match.group(1)}/diskTypes/{match.group(2)}")
        return match.group(2)

    def _normalize_accelerators(
        self, project: str, zone: str, shape: MachineShape, given: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if shape.gpu is not None:
            if given:
                # G2/A2/A3/A4 carry their GPUs in the machine type; guestAccelerators are for N1
                # (https://cloud.google.com/compute/docs/gpus). Compute's wording for a mismatch: the
                # "[features] are not compatible" form above. Refusing a matching list too is the cautious choice.
                name = str(given[0].get("acceleratorType", "")).rsplit("/", 1)[-1]
                raise _incompatible(name, shape.name)
            url = API + f"projects/{project}/zones/{zone}/acceleratorTypes/{shape.gpu}"
            # GET shows the built-in GPUs of G2/A2/A3/A4 instances as guestAccelerators.
            return [{"acceleratorType": url, "acceleratorCount": shape.gpu_count}]
        out: list[dict[str, Any]] = []
        for index, accelerator in enumerate(given):
            path = f"resource.guestAccelerators[{index}]"
            value = str(accelerator.get("acceleratorType", ""))
            match = re.fullmatch(_API_PREFIX_RE + r"(?:projects/[^/]+/)?zones/([^/]+)/acceleratorTypes/([^/]+)", value)
            if match is None:
                raise _malformed(f"{path}.acceleratorType", value)
            accelerator_zone, name = match.group(1), match.group(2)
            if accelerator_zone != zone or name not in ZONES[zone]:
                # "The resource 'projects/p/zones/us-west1-b/acceleratorTypes/nvidia-tesla-p4' was not found"
                # (https://github.com/fastai/course-v3/pull/430; HTTP status unconfirmed).
                raise _not_found(f"projects/{project}/zones/{accelerator_zone}/acceleratorTypes/{name}")
            catalogue = ACCELERATORS[name]
            if shape.family != "n1" or not catalogue.n1_counts:
                raise _incompatible(name, shape.name)
            count = int(accelerator.get("acceleratorCount", 0))
            if count not in catalogue.n1_counts:
                # Unconfirmed wording; the valid counts are https://cloud.google.com/compute/docs/gpus#n1-gpus.
                allowed = ", ".join(str(c) for c in catalogue.n1_counts)
                raise _invalid_field(
                    f"{path}.acceleratorCount", count, f"Accelerator count for {name} must be one of [{allowed}]."
                )
            out.append(
                {
                    "acceleratorType": API + f"projects/{project}/zones/{zone}/acceleratorTypes/{name}",
                    "acceleratorCount": count,
                }
            )
        if len({a["acceleratorType"] for a in out}) < len(out):
            raise _invalid_field("resource.guestAccelerators", "", "Each accelerator type may be listed once.")
        return out

    def _normalize_scheduling(self, given: dict[str, Any], gpu: bool, path: str) -> dict[str, Any]:
        scheduling = _copy(given)
        model = scheduling.get("provisioningModel", "STANDARD")
        preemptible = bool(scheduling.get("preemptible", False))
        spot = model == "SPOT"
        scheduling["provisioningModel"] = model
        scheduling.setdefault("preemptible", False)
        if spot or preemptible:
            # "For preemptible instances, the default and only possible behavior is TERMINATE" (Scheduling docstring);
            # Spot VMs likewise (https://cloud.google.com/compute/docs/instances/spot). The preemptible wording is
            # Compute's; the Spot one follows it, unconfirmed.
            kind = "preemptible be false" if preemptible else "provisioningModel not be SPOT"
            if scheduling.get("onHostMaintenance", "TERMINATE") != "TERMINATE":
                raise _bad_request(f"Scheduling must have {kind} when OnHostMaintenance isn't TERMINATE.")
            if scheduling.get("automaticRestart", False):
                raise _bad_request(f"Scheduling must have {kind} when AutomaticRestart is true.")
            scheduling["onHostMaintenance"] = "TERMINATE"
            scheduling["automaticRestart"] = False
            if spot:
                # "If you don't specify a termination action, the default is STOP" (Spot VMs page).
                scheduling.setdefault("instanceTerminationAction", "STOP")
        else:
            scheduling.setdefault("onHostMaintenance", "MIGRATE")
            scheduling.setdefault("automaticRestart", True)
        if gpu and scheduling["onHostMaintenance"] != "TERMINATE":
            # gcloud/API answer for a GPU VM left on the default MIGRATE policy
            # (https://github.com/loft-sh/devpod/issues/973).
            raise _bad_request("Instances with guest accelerators do not support live migration.")
        limit = scheduling.get("maxRunDuration")
        if limit is not None:
            seconds = int(limit.get("seconds", 0))
            if not _MAX_RUN_MIN_S <= seconds <= _MAX_RUN_MAX_S:
                # Unconfirmed wording; the range is https://cloud.google.com/compute/docs/instances/limit-vm-runtime.
                raise _invalid_field(
                    f"{path}.maxRunDuration.seconds", seconds, "Must be between 30 seconds and 120 days."
                )
        if (limit is not None or scheduling.get("terminationTime")) and "instanceTerminationAction" not in scheduling:
            # Unconfirmed wording; the rule: a run limit needs a termination action (limit-vm-runtime page).
            raise _invalid_field(
                f"{path}.instanceTerminationAction",
                "",
                "instanceTerminationAction must be set when maxRunDuration or terminationTime is set.",
            )
        return scheduling

    def _normalize_metadata(self, metadata: dict[str, Any], path: str) -> dict[str, Any]:
        items = metadata.get("items", [])
        seen: set[str] = set()
        total = 0
        for index, item in enumerate(items):
            key = str(item.get("key", ""))
            value = str(item.get("value", ""))
            if not _METADATA_KEY_RE.fullmatch(key):
                raise _invalid_field(
                    f"{path}.items[{index}].key", key, "Must be a match of regex '[a-zA-Z0-9-_]{1,128}'"
                )
            if key in seen:
                raise _invalid_field(f"{path}.items[{index}].key", key, "Duplicate metadata keys are not allowed.")
            seen.add(key)
            if len(value.encode()) > _METADATA_VALUE_MAX:
                raise _invalid_field(f"{path}.items[{index}].value", "...", "Metadata values are limited to 256 KB.")
            total += len(key.encode()) + len(value.encode())
        if total > _METADATA_TOTAL_MAX:
            raise _invalid_field(path, "...", "Metadata is limited to 512 KB in total.")
        if _CONTAINER_AGENT_KEY in seen and self._now() >= _CONTAINER_AGENT_END:
            raise _invalid_field(
                f"{path}.items",
                _CONTAINER_AGENT_KEY,
                "The container startup agent is no longer supported for new VMs: use cloud-init (user-data) on "
                "Container-Optimized OS instead.",
            )
        doc: dict[str, Any] = {"kind": "compute#metadata", "fingerprint": _fingerprint(items)}
        if items:
            doc["items"] = [{"key": str(i.get("key")), "value": str(i.get("value", ""))} for i in items]
        return doc

    def _normalize_interfaces(self, project: str, zone: str, given: list[dict[str, Any]]) -> list[dict[str, Any]]:
        region = region_of(zone)
        out: list[dict[str, Any]] = []
        for index, nic in enumerate(given):
            path = f"resource.networkInterfaces[{index}]"
            network = str(nic.get("network") or "global/networks/default")
            match = re.fullmatch(_API_PREFIX_RE + r"(?:projects/([^/]+)/)?global/networks/([^/]+)", network)
            if match is None:
                raise _malformed(f"{path}.network", network)
            if match.group(2) != "default":
                # The open world has each project's default network only.
                raise _not_found(f"projects/{match.group(1) or project}/global/networks/{match.group(2)}")
            subnetwork = str(nic.get("subnetwork") or "")
            if subnetwork:
                sub = re.fullmatch(
                    _API_PREFIX_RE + r"(?:projects/[^/]+/)?regions/([^/]+)/subnetworks/([^/]+)", subnetwork
                )
                if sub is None:
                    raise _malformed(f"{path}.subnetwork", subnetwork)
                if sub.group(1) != region or sub.group(2) != "default":
                    raise _not_found(f"projects/{project}/regions/{sub.group(1)}/subnetworks/{sub.group(2)}")
            doc: dict[str, Any] = {
                "kind": "compute#networkInterface",
                "network": API + f"projects/{project}/global/networks/default",
                "subnetwork": API + f"projects/{project}/regions/{region}/subnetworks/default",
                "networkIP": nic.get("networkIP") or self._internal_ip(project, region),
                "name": f"nic{index}",
                "stackType": nic.get("stackType", "IPV4_ONLY"),
            }
            configs = []
            for config in nic.get("accessConfigs", []):
                entry: dict[str, Any] = {
                    "kind": "compute#accessConfig",
                    "type": config.get("type", "ONE_TO_ONE_NAT"),
                    "name": config.get("name", "External NAT"),
                    "networkTier": config.get("networkTier", "PREMIUM"),
                }
                if config.get("natIP"):
                    entry["natIP"] = config["natIP"]  # a reserved address: kept across stop and start
                configs.append(entry)
            if configs:
                doc["accessConfigs"] = configs
            doc["fingerprint"] = _fingerprint(doc)
            out.append(doc)
        return out

    # -- instances: handlers ---------------------------------------------------------------------------------------
    def insert_instance(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.InsertInstanceRequest, path=("project", "zone"), body="instance_resource")
        given = _parse(compute_v1.Instance, req)
        for unsupported in ("sourceInstanceTemplate", "sourceMachineImage"):
            if req.param(unsupported):
                raise ApiError("UNIMPLEMENTED", f"The emulator does not create instances from {unsupported}.")
        name = str(given.get("name", ""))
        key = f"projects/{project}/zones/{zone}/instances/{name}"
        # What Google checks to create an instance with these parts
        # (https://cloud.google.com/compute/docs/instances/create-start-instance, "Required roles").
        self.emulator.authorize(req, "compute.instances.create", key)
        if given.get("disks"):
            self.emulator.authorize(req, "compute.disks.create", f"projects/{project}/zones/{zone}/disks/{name}")
        if given.get("networkInterfaces"):
            subnet = f"projects/{project}/regions/{region_of(zone)}/subnetworks/default"
            self.emulator.authorize(req, "compute.subnetworks.use", subnet)
            if any(nic.get("accessConfigs") for nic in given["networkInterfaces"]):
                self.emulator.authorize(req, "compute.subnetworks.useExternalIp", subnet)
        if given.get("metadata", {}).get("items"):
            self.emulator.authorize(req, "compute.instances.setMetadata", key)
        if given.get("labels"):
            self.emulator.authorize(req, "compute.instances.setLabels", key)
        for account in given.get("serviceAccounts", []):
            self.emulator.authorize(req, "compute.instances.setServiceAccount", key)
            email = self._service_account_email(project, str(account.get("email", "")))
            owner = _project_of_member(email, project)
            self.emulator.authorize(req, "iam.serviceAccounts.actAs", f"projects/{owner}/serviceAccounts/{email}")
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            self._zone_or_404(project, zone)
            if not _NAME_RE.fullmatch(name):
                raise _invalid_field("resource.name", name, _NAME_RULE)
            if not given.get("machineType"):
                raise _invalid_field("resource.machineType", "", "Machine type must be specified.")
            shape = self._resolve_machine_type(str(given["machineType"]), zone, "resource.machineType")
            disks, disk_types, image = self._normalize_disks(project, zone, name, shape, given.get("disks", []))
            accelerators = self._normalize_accelerators(project, zone, shape, given.get("guestAccelerators", []))
            scheduling = self._normalize_scheduling(
                given.get("scheduling", {}), bool(accelerators), "resource.scheduling"
            )
            metadata = self._normalize_metadata(given.get("metadata", {}), "resource.metadata")
            if key in self._table(INSTANCES):
                raise _already_exists(key)
            interfaces = self._normalize_interfaces(project, zone, given.get("networkInterfaces", []))
            now = self._now()
            labels = given.get("labels", {})
            instance: dict[str, Any] = {
                k: v for k, v in given.items() if k not in _INSTANCE_OUTPUT_ONLY and k != "guestAccelerators"
            }
            instance.update(
                kind="compute#instance",
                id=_new_id(),
                creationTimestamp=_timestamp(now),
                name=name,
                zone=API + f"projects/{project}/zones/{zone}",
                machineType=API + f"projects/{project}/zones/{zone}/machineTypes/{shape.name}",
                status="PROVISIONING",
                cpuPlatform="Unknown CPU Platform",
                disks=disks,
                networkInterfaces=interfaces,
                metadata=metadata,
                scheduling=scheduling,
                serviceAccounts=[
                    {
                        "email": self._service_account_email(project, str(a.get("email", ""))),
                        "scopes": a.get("scopes", []),
                    }
                    for a in given.get("serviceAccounts", [])
                ],
                tags={**given.get("tags", {}), "fingerprint": _fingerprint(given.get("tags", {}).get("items"))},
                labelFingerprint=_fingerprint(labels),
                canIpForward=bool(given.get("canIpForward", False)),
                deletionProtection=bool(given.get("deletionProtection", False)),
                startRestricted=False,
                selfLink=API + key,
            )
            if accelerators:
                instance["guestAccelerators"] = accelerators
            if not instance["serviceAccounts"]:
                del instance["serviceAccounts"]
            facts: dict[str, Any] = {
                "image": image.name,
                "boots": 0,
                "diskTypes": disk_types,
                "staticAddresses": [
                    c["natIP"] for nic in interfaces for c in nic.get("accessConfigs", []) if c.get("natIP")
                ],
            }
            failure = self._quota_error(project, self._uses(instance, facts, running=True)) or self._capacity_error(
                project, zone, instance
            )
            if failure is not None:
                return self._zone_operation(req, project, zone, "insert", key, instance["id"], error=failure)
            self._assign_external(instance)
            instance["fingerprint"] = _fingerprint(instance)
            self._table(INSTANCES)[key] = instance
            self._table(INSTANCE_FACTS)[key] = facts
            return self._zone_operation(
                req, project, zone, "insert", key, instance["id"], action={"kind": "insert", "instance": key}
            )

    def _service_account_email(self, project: str, email: str) -> str:
        # "default" names the project's Compute Engine default service account (ServiceAccount.email docstring).
        if email in ("", "default"):
            return f"{self.emulator.project_number(project)}-compute@developer.gserviceaccount.com"
        return email

    def _instance(self, project: str, zone: str, instance: str) -> tuple[str, dict[str, Any]]:
        self._zone_or_404(project, zone)
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        doc = self._table(INSTANCES).get(key)
        if doc is None:
            raise _not_found(key)
        return key, doc

    def get_instance(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetInstanceRequest, path=("project", "zone", "instance"))
        self.emulator.authorize(req, "compute.instances.get", f"projects/{project}/zones/{zone}/instances/{instance}")
        with self._reading():
            return _copy(self._instance(project, zone, instance)[1])

    def list_instances(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListInstancesRequest, path=("project", "zone"))
        self.emulator.authorize(req, "compute.instances.list", f"projects/{project}/zones/{zone}")
        predicate = _filter(req)
        with self._reading():
            self._zone_or_404(project, zone)
            prefix = f"projects/{project}/zones/{zone}/instances/"
            docs = [_copy(d) for k, d in self._table(INSTANCES).items() if k.startswith(prefix)]
        return _list_response(
            "compute#instanceList",
            f"projects/{project}/zones/{zone}/instances",
            _order([d for d in docs if predicate(d)], req),
            req,
        )

    def aggregated_instances(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.AggregatedListInstancesRequest, path=("project",))
        self.emulator.authorize(req, "compute.instances.list", f"projects/{project}")
        predicate = _filter(req)
        with self._reading():
            prefix = f"projects/{project}/zones/"
            docs = [(k.split("/")[3], _copy(d)) for k, d in self._table(INSTANCES).items() if k.startswith(prefix)]
        entries = [(zone, doc) for zone, doc in sorted(docs, key=lambda e: (e[0], e[1]["name"])) if predicate(doc)]
        return _aggregated(project, req, "instances", "compute#instanceAggregatedList", entries)

    def delete_instance(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.DeleteInstanceRequest, path=("project", "zone", "instance"))
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.delete", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._instance(project, zone, instance)
            if doc.get("deletionProtection"):
                # Unconfirmed wording; the rule is Instance.deletion_protection.
                raise _bad_request(
                    "Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'."
                )
            if doc.get("status") != "TERMINATED":
                doc["status"] = "STOPPING"
            return self._zone_operation(
                req, project, zone, "delete", key, doc["id"], action={"kind": "delete", "instance": key}
            )

    def set_metadata(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(
            req, compute_v1.SetMetadataInstanceRequest, path=("project", "zone", "instance"), body="metadata_resource"
        )
        given = _parse(compute_v1.Metadata, req)
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.setMetadata", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._instance(project, zone, instance)
            current = doc.get("metadata", {}).get("fingerprint", EMPTY_FINGERPRINT)
            if given.get("fingerprint") != current:
                # "You must always provide an up-to-date fingerprint hash in order to update or change metadata,
                # otherwise the request will fail with error 412 conditionNotMet." (Metadata.fingerprint docstring;
                # message as terraform-provider-google matches it: "Supplied fingerprint does not match current
                # metadata fingerprint.")
                raise ComputeError(
                    412,
                    "conditionNotMet",
                    "Supplied fingerprint does not match current metadata fingerprint.",
                    location="If-Match",
                    location_type="header",
                )
            metadata = self._normalize_metadata(given, "resource")
            # The new fingerprint is visible as soon as the request is accepted, so a second stale write fails.
            doc["metadata"] = metadata
            return self._zone_operation(
                req,
                project,
                zone,
                "setMetadata",
                key,
                doc["id"],
                action={"kind": "setMetadata", "instance": key, "metadata": metadata},
            )

    def set_scheduling(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(
            req,
            compute_v1.SetSchedulingInstanceRequest,
            path=("project", "zone", "instance"),
            body="scheduling_resource",
        )
        given = _parse(compute_v1.Scheduling, req)
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.setScheduling", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._instance(project, zone, instance)
            current = doc.get("scheduling", {})
            changes_model = given.get("provisioningModel", "STANDARD") != current.get("provisioningModel", "STANDARD")
            if changes_model and doc.get("status") != "TERMINATED":
                # Scheduling.preemptible docstring: set "only during instance creation or while the instance is
                # stopped and therefore, in a TERMINATED state"; the same for the provisioning model (unconfirmed).
                raise _not_ready(key)
            gpu = bool(doc.get("guestAccelerators"))
            scheduling = self._normalize_scheduling(given, gpu, "resource")
            return self._zone_operation(
                req,
                project,
                zone,
                "setScheduling",
                key,
                doc["id"],
                action={"kind": "setScheduling", "instance": key, "scheduling": scheduling},
            )

    def reset(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ResetInstanceRequest, path=("project", "zone", "instance"))
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.reset", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._instance(project, zone, instance)
            if doc.get("status") != "RUNNING":
                # A reset needs a running VM (Instances.Reset: "Performs a reset on the instance").
                raise _not_ready(key)
            return self._zone_operation(
                req, project, zone, "reset", key, doc["id"], action={"kind": "reset", "instance": key}
            )

    def stop(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.StopInstanceRequest, path=("project", "zone", "instance"))
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.stop", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._instance(project, zone, instance)
            if doc.get("status") in ("PROVISIONING", "STAGING"):
                raise _not_ready(key)
            action = None
            if doc.get("status") == "RUNNING":
                doc["status"] = "STOPPING"
                action = {"kind": "stop", "instance": key}
            return self._zone_operation(req, project, zone, "stop", key, doc["id"], action=action)

    def start(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.StartInstanceRequest, path=("project", "zone", "instance"))
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.start", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._instance(project, zone, instance)
            if doc.get("status") == "STOPPING":
                raise _not_ready(key)
            if doc.get("status") != "TERMINATED":
                return self._zone_operation(req, project, zone, "start", key, doc["id"])
            # A start needs the quota and the capacity again.
            facts = self._table(INSTANCE_FACTS).setdefault(key, {})
            uses = self._uses(doc, facts, running=True)
            failure = self._quota_error(project, uses) or self._capacity_error(project, zone, doc)
            if failure is not None:
                return self._zone_operation(req, project, zone, "start", key, doc["id"], error=failure)
            doc["status"] = "PROVISIONING"
            self._assign_external(doc)
            return self._zone_operation(
                req, project, zone, "start", key, doc["id"], action={"kind": "start", "instance": key}
            )

    def serial_port(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetSerialPortOutputInstanceRequest, path=("project", "zone", "instance"))
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.getSerialPortOutput", key)
        port = _int_param(req, "port", 1) or 1
        if not 1 <= port <= 4:
            raise _invalid_field("port", port, "Must be between 1 and 4.")  # Compute has COM1-COM4; wording unconfirmed
        start = _int_param(req, "start", 0) or 0
        with self._reading():
            key, _ = self._instance(project, zone, instance)
            facts = self._table(INSTANCE_FACTS).get(key, {})
            raw = str(facts.get("console", "")).encode() if port == 1 else b""
            dropped = int(facts.get("consoleDropped", 0)) if port == 1 else 0
        end = dropped + len(raw)
        # Negative start: the most recent bytes; a start before the buffer moves to the oldest byte kept; the answer's
        # start says where the contents begin (GetSerialPortOutputInstanceRequest.start docstring).
        begin = max(end + start if start < 0 else start, dropped)
        contents = raw[begin - dropped :].decode(errors="replace") if begin < end else ""
        return {
            "kind": "compute#serialPortOutput",
            "contents": contents,
            "start": str(begin),
            "next": str(max(end, begin)),
            "selfLink": API + key + f"/serialPort?port={port}",
        }

    # -- firewalls -------------------------------------------------------------------------------------------------
    def insert_firewall(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.InsertFirewallRequest, path=("project",), body="firewall_resource")
        given = _parse(compute_v1.Firewall, req)
        name = str(given.get("name", ""))
        key = f"projects/{project}/global/firewalls/{name}"
        self.emulator.authorize(req, "compute.firewalls.create", key)
        self.emulator.authorize(req, "compute.networks.updatePolicy", f"projects/{project}/global/networks/default")
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            if not _NAME_RE.fullmatch(name):
                raise _invalid_field("resource.name", name, _NAME_RULE)
            if key in self._table(FIREWALLS):
                raise _already_exists(key)
            doc = self._normalize_firewall(project, given, "resource")
            now = self._now()
            doc.update(
                kind="compute#firewall",
                id=_new_id(),
                creationTimestamp=_timestamp(now),
                name=name,
                selfLink=API + key,
            )
            failure = self._quota_error(project, [_Use("global", "FIREWALLS", 1)])
            if failure is None:
                self._table(FIREWALLS)[key] = doc
            return self._start_operation(
                req,
                project=project,
                scope="global",
                operation_type="insert",
                target=key,
                target_id=doc["id"],
                error=failure,
            )

    def _normalize_firewall(self, project: str, given: dict[str, Any], path: str) -> dict[str, Any]:
        doc = {k: v for k, v in given.items() if k not in ("id", "kind", "creationTimestamp", "selfLink")}
        network = str(doc.get("network") or "global/networks/default")
        match = re.fullmatch(_API_PREFIX_RE + r"(?:projects/([^/]+)/)?global/networks/([^/]+)", network)
        if match is None:
            raise _malformed(f"{path}.network", network)
        if match.group(2) != "default":
            raise _not_found(f"projects/{match.group(1) or project}/global/networks/{match.group(2)}")
        doc["network"] = API + f"projects/{project}/global/networks/default"
        direction = doc.setdefault("direction", "INGRESS")
        doc.setdefault("priority", 1000)
        if not 0 <= int(doc["priority"]) <= 65535:
            raise _invalid_field(
                f"{path}.priority", doc["priority"], "Must be between 0 and 65535."
            )  # Firewall.priority
        allowed, denied = doc.get("allowed") or [], doc.get("denied") or []
        if bool(allowed) == bool(denied):
            # Unconfirmed wording; a rule either allows or denies (Firewall.allowed / denied docstrings).
            raise _invalid_field(path, "", "Exactly one of allowed or denied must be specified.")
        for kind, rules in (("allowed", allowed), ("denied", denied)):
            for index, rule in enumerate(rules):
                self._check_rule(rule, f"{path}.{kind}[{index}]")
        for field in ("sourceRanges", "destinationRanges"):
            for index, cidr in enumerate(doc.get(field, [])):
                try:
                    ipaddress.ip_network(str(cidr), strict=False)
                except ValueError as exc:
                    raise _invalid_field(f"{path}.{field}[{index}]", cidr, "Invalid IP CIDR range.") from exc
        if direction == "INGRESS" and not (
            doc.get("sourceRanges") or doc.get("sourceTags") or doc.get("sourceServiceAccounts")
        ):
            # No source given: the rule applies to all sources, 0.0.0.0/0 (Firewall.source_ranges docstring).
            doc["sourceRanges"] = ["0.0.0.0/0"]
        if direction == "EGRESS" and not doc.get("destinationRanges"):
            doc["destinationRanges"] = ["0.0.0.0/0"]
        doc.setdefault("logConfig", {"enable": False})
        doc.setdefault("disabled", False)
        return doc

    @staticmethod
    def _check_rule(rule: dict[str, Any], path: str) -> None:
        protocol = str(rule.get("IPProtocol", ""))
        named = {"tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"}
        # Firewall Allowed.IPProtocol: one of the well-known names or an IP protocol number.
        if protocol not in named and not (protocol.isdigit() and int(protocol) <= 255):
            raise _invalid_field(f"{path}.IPProtocol", protocol, "Invalid IP protocol.")
        for index, port in enumerate(rule.get("ports", [])):
            if protocol not in ("tcp", "udp", "sctp", "6", "17", "132"):
                raise _invalid_field(f"{path}.ports[{index}]", port, "Ports are only valid for TCP, UDP and SCTP.")
            match = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", str(port))
            low = int(match.group(1)) if match else -1
            high = int(match.group(2) or low) if match else -1
            if match is None or not 0 <= low <= high <= 65535:
                raise _invalid_field(f"{path}.ports[{index}]", port, "Invalid port specification.")

    def _firewall(self, project: str, firewall: str) -> tuple[str, dict[str, Any]]:
        key = f"projects/{project}/global/firewalls/{firewall}"
        doc = self._table(FIREWALLS).get(key)
        if doc is None:
            raise _not_found(key)
        return key, doc

    def get_firewall(self, req: Request, project: str, firewall: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetFirewallRequest, path=("project", "firewall"))
        self.emulator.authorize(req, "compute.firewalls.get", f"projects/{project}/global/firewalls/{firewall}")
        with self._reading():
            return _copy(self._firewall(project, firewall)[1])

    def list_firewalls(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListFirewallsRequest, path=("project",))
        self.emulator.authorize(req, "compute.firewalls.list", f"projects/{project}")
        predicate = _filter(req)
        prefix = f"projects/{project}/global/firewalls/"
        with self._reading():
            docs = [_copy(d) for k, d in self._table(FIREWALLS).items() if k.startswith(prefix) and predicate(d)]
        return _list_response("compute#firewallList", f"projects/{project}/global/firewalls", _order(docs, req), req)

    def patch_firewall(self, req: Request, project: str, firewall: str) -> dict[str, Any]:
        _check_query(req, compute_v1.PatchFirewallRequest, path=("project", "firewall"), body="firewall_resource")
        given = _parse(compute_v1.Firewall, req)
        key = f"projects/{project}/global/firewalls/{firewall}"
        self.emulator.authorize(req, "compute.firewalls.update", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._firewall(project, firewall)
            if given.get("name", firewall) != firewall:
                raise _invalid_field("resource.name", given["name"], "The name of a firewall cannot be changed.")
            # PATCH takes the fields it is given and keeps the others (Firewalls.Patch: "JSON merge patch").
            merged = {
                **doc,
                **{k: v for k, v in given.items() if k not in ("id", "kind", "creationTimestamp", "selfLink")},
            }
            for cleared in ("allowed", "denied"):
                if cleared in given:
                    merged.pop("denied" if cleared == "allowed" else "allowed", None)
            normalized = self._normalize_firewall(project, merged, "resource")
            for kept in ("kind", "id", "creationTimestamp", "name", "selfLink"):
                normalized[kept] = doc[kept]
            self._table(FIREWALLS)[key] = normalized
            return self._start_operation(
                req, project=project, scope="global", operation_type="patch", target=key, target_id=doc["id"]
            )

    def delete_firewall(self, req: Request, project: str, firewall: str) -> dict[str, Any]:
        _check_query(req, compute_v1.DeleteFirewallRequest, path=("project", "firewall"))
        key = f"projects/{project}/global/firewalls/{firewall}"
        self.emulator.authorize(req, "compute.firewalls.delete", key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            key, doc = self._firewall(project, firewall)
            del self._table(FIREWALLS)[key]
            return self._start_operation(
                req, project=project, scope="global", operation_type="delete", target=key, target_id=doc["id"]
            )

    # -- images --------------------------------------------------------------------------------------------------
    def image_from_family(self, req: Request, project: str, family: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetFromFamilyImageRequest, path=("project", "family"))
        self._authorize_image(
            req, project, "compute.images.getFromFamily", f"projects/{project}/global/images/family/{family}"
        )
        found = _find_image(project, family=family)
        if found is None:
            raise _not_found(f"projects/{project}/global/images/family/{family}")
        return _image_doc(found)

    def get_image(self, req: Request, project: str, image: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetImageRequest, path=("project", "image"))
        self._authorize_image(req, project, "compute.images.get", f"projects/{project}/global/images/{image}")
        found = _find_image(project, name=image)
        if found is None:
            raise _not_found(f"projects/{project}/global/images/{image}")
        return _image_doc(found)

    def list_images(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListImagesRequest, path=("project",))
        self._authorize_image(req, project, "compute.images.list", f"projects/{project}")
        predicate = _filter(req)
        docs = [_image_doc(i) for i in COS_IMAGES if project == _COS_PROJECT]
        return _list_response(
            "compute#imageList",
            f"projects/{project}/global/images",
            _order([d for d in docs if predicate(d)], req),
            req,
        )

    def _authorize_image(self, req: Request, project: str, permission: str, resource: str) -> None:
        # Public image projects (cos-cloud) let every authenticated caller read their images
        # (https://cloud.google.com/compute/docs/images#os-compute-support): no check applies there.
        if project != _COS_PROJECT:
            self.emulator.authorize(req, permission, resource)

    # -- the catalogue: accelerator types, machine types, regions, zones, project -----------------------------------
    def _accelerator_doc(self, project: str, zone: str, name: str) -> dict[str, Any]:
        accelerator = ACCELERATORS[name]
        return {
            "kind": "compute#acceleratorType",
            "id": _stable_id(name),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": name,
            "description": accelerator.description,
            "zone": API + f"projects/{project}/zones/{zone}",
            "maximumCardsPerInstance": accelerator.max_cards,
            "selfLink": API + f"projects/{project}/zones/{zone}/acceleratorTypes/{name}",
        }

    def aggregated_accelerator_types(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.AggregatedListAcceleratorTypesRequest, path=("project",))
        self.emulator.authorize(req, "compute.acceleratorTypes.list", f"projects/{project}")
        predicate = _filter(req)
        entries = [
            (zone, doc)
            for zone in sorted(ZONES)
            for doc in (self._accelerator_doc(project, zone, n) for n in sorted(ZONES[zone]))
            if predicate(doc)
        ]
        return _aggregated(project, req, "acceleratorTypes", "compute#acceleratorTypeAggregatedList", entries)

    def list_accelerator_types(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListAcceleratorTypesRequest, path=("project", "zone"))
        self.emulator.authorize(req, "compute.acceleratorTypes.list", f"projects/{project}/zones/{zone}")
        self._zone_or_404(project, zone)
        predicate = _filter(req)
        docs = [self._accelerator_doc(project, zone, n) for n in sorted(ZONES[zone])]
        return _plain_list(
            project,
            req,
            f"zones/{zone}/acceleratorTypes",
            "compute#acceleratorTypeList",
            [d for d in docs if predicate(d)],
        )

    def get_accelerator_type(self, req: Request, project: str, zone: str, accelerator_type: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetAcceleratorTypeRequest, path=("project", "zone", "accelerator_type"))
        resource = f"projects/{project}/zones/{zone}/acceleratorTypes/{accelerator_type}"
        self.emulator.authorize(req, "compute.acceleratorTypes.get", resource)
        self._zone_or_404(project, zone)
        if accelerator_type not in ZONES[zone]:
            raise _not_found(resource)
        return self._accelerator_doc(project, zone, accelerator_type)

    def _machine_type_doc(self, project: str, zone: str, shape: MachineShape) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": "compute#machineType",
            "id": _stable_id(shape.name),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": shape.name,
            "description": shape.description,
            "guestCpus": shape.cpus,
            "memoryMb": shape.memory_mb,
            "imageSpaceGb": 0,
            "maximumPersistentDisks": 128,
            "maximumPersistentDisksSizeGb": "263168",
            "zone": zone,  # the bare zone name (MachineType.zone docstring)
            "selfLink": API + f"projects/{project}/zones/{zone}/machineTypes/{shape.name}",
            "isSharedCpu": shape.shared_cpu,
            "architecture": "X86_64",
        }
        if shape.gpu is not None:
            doc["accelerators"] = [{"guestAcceleratorType": shape.gpu, "guestAcceleratorCount": shape.gpu_count}]
        return doc

    def list_machine_types(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListMachineTypesRequest, path=("project", "zone"))
        self.emulator.authorize(req, "compute.machineTypes.list", f"projects/{project}/zones/{zone}")
        self._zone_or_404(project, zone)
        predicate = _filter(req)
        docs = [self._machine_type_doc(project, zone, s) for s in machine_types_in(zone)]
        docs = _order([d for d in docs if predicate(d)], req)
        return _plain_list(project, req, f"zones/{zone}/machineTypes", "compute#machineTypeList", docs)

    def aggregated_machine_types(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.AggregatedListMachineTypesRequest, path=("project",))
        self.emulator.authorize(req, "compute.machineTypes.list", f"projects/{project}")
        predicate = _filter(req)
        entries = [
            (zone, doc)
            for zone in sorted(ZONES)
            for doc in sorted(
                (self._machine_type_doc(project, zone, s) for s in machine_types_in(zone)), key=lambda d: d["name"]
            )
            if predicate(doc)
        ]
        return _aggregated(project, req, "machineTypes", "compute#machineTypeAggregatedList", entries)

    def get_machine_type(self, req: Request, project: str, zone: str, machine_type: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetMachineTypeRequest, path=("project", "zone", "machine_type"))
        resource = f"projects/{project}/zones/{zone}/machineTypes/{machine_type}"
        self.emulator.authorize(req, "compute.machineTypes.get", resource)
        self._zone_or_404(project, zone)
        shape = MACHINE_TYPES.get(machine_type)
        if shape is None or shape not in machine_types_in(zone):
            raise _not_found(resource)
        return self._machine_type_doc(project, zone, shape)

    def _region_doc(self, project: str, region: str) -> dict[str, Any]:
        return {
            "kind": "compute#region",
            "id": _stable_id(region),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": region,
            "description": region,
            "status": "UP",
            "zones": [API + f"projects/{project}/zones/{zone}" for zone in REGIONS[region]],
            "quotas": self._quota_docs(project, region),
            "selfLink": API + f"projects/{project}/regions/{region}",
            "supportsPzs": True,
        }

    def get_region(self, req: Request, project: str, region: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetRegionRequest, path=("project", "region"))
        self.emulator.authorize(req, "compute.regions.get", f"projects/{project}/regions/{region}")
        with self._reading():
            self._region_or_404(project, region)
            return self._region_doc(project, region)

    def list_regions(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListRegionsRequest, path=("project",))
        self.emulator.authorize(req, "compute.regions.list", f"projects/{project}")
        predicate = _filter(req)
        with self._reading():
            docs = [self._region_doc(project, r) for r in sorted(REGIONS)]
        return _plain_list(
            project, req, "regions", "compute#regionList", _order([d for d in docs if predicate(d)], req)
        )

    def _zone_doc(self, project: str, zone: str) -> dict[str, Any]:
        platforms = sorted({_CPU_PLATFORM[m.family] for m in machine_types_in(zone) if m.family in _CPU_PLATFORM})
        return {
            "kind": "compute#zone",
            "id": _stable_id(zone),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": zone,
            "description": zone,
            "status": "UP",
            "region": API + f"projects/{project}/regions/{region_of(zone)}",
            "selfLink": API + f"projects/{project}/zones/{zone}",
            "availableCpuPlatforms": platforms,
            "supportsPzs": True,
        }

    def get_zone(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetZoneRequest, path=("project", "zone"))
        self.emulator.authorize(req, "compute.zones.get", f"projects/{project}/zones/{zone}")
        self._zone_or_404(project, zone)
        return self._zone_doc(project, zone)

    def list_zones(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListZonesRequest, path=("project",))
        self.emulator.authorize(req, "compute.zones.list", f"projects/{project}")
        predicate = _filter(req)
        docs = [self._zone_doc(project, z) for z in sorted(ZONES)]
        return _plain_list(project, req, "zones", "compute#zoneList", _order([d for d in docs if predicate(d)], req))

    def get_project(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetProjectRequest, path=("project",))
        self.emulator.authorize(req, "compute.projects.get", f"projects/{project}")
        number = self.emulator.project_number(project)
        with self._reading():
            quotas = self._quota_docs(project, "global")
        return {
            "kind": "compute#project",
            "id": number,
            "name": project,
            "commonInstanceMetadata": {"kind": "compute#metadata", "fingerprint": EMPTY_FINGERPRINT},
            "quotas": quotas,
            "selfLink": API + f"projects/{project}",
            "defaultServiceAccount": f"{number}-compute@developer.gserviceaccount.com",
            "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
            "defaultNetworkTier": "PREMIUM",
            "vmDnsSetting": "ZONAL_ONLY",
        }


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

_COS_GUEST_OS_FEATURES = [
    {"type": "VIRTIO_SCSI_MULTIQUEUE"},
    {"type": "SEV_CAPABLE"},
    {"type": "UEFI_COMPATIBLE"},
    {"type": "GVNIC"},
]


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


def _taxonomy_message(disk_type: str, shape: MachineShape) -> str:
    family, generation = _TAXONOMY.get(shape.family, (shape.family.upper(), "GEN_1"))
    taxonomy = (
        f"instance_type: VIRTUAL_MACHINE\nfamily: {family}\ngeneration: {generation}\ncpu_vendor: INTEL\n"
        "architecture: X86_64\n"
    )
    return f"[{disk_type}] features and [{taxonomy}] InstanceTaxonomies are not compatible for creating instance"


def _find_image(project: str, *, family: str | None = None, name: str | None = None) -> CosImage | None:
    if project != _COS_PROJECT:
        return None
    for image in COS_IMAGES:
        if (family is not None and image.family == family) or (name is not None and image.name == name):
            return image
    return None


def _image_doc(image: CosImage) -> dict[str, Any]:
    channel = image.family.removeprefix("cos-").replace("-lts", " LTS")
    return {
        "kind": "compute#image",
        "id": _stable_id(image.name),
        "creationTimestamp": "2026-10-15T10:21:43.510+00:00",
        "name": image.name,
        "description": f"Google, Container-Optimized OS, {image.version} {channel}, Kernel: ChromiumOS-6.1.100 "
        f"Docker: 24.0.9 Family: {image.family}, supports Shielded VM features",
        "sourceType": "RAW",
        "status": "READY",
        "archiveSizeBytes": "1363058176",
        "diskSizeGb": str(_COS_IMAGE_GB),
        "licenses": [API + f"projects/{_COS_PROJECT}/global/licenses/cos"],
        "family": image.family,
        "selfLink": API + f"projects/{_COS_PROJECT}/global/images/{image.name}",
        "labelFingerprint": EMPTY_FINGERPRINT,
        "guestOsFeatures": _COS_GUEST_OS_FEATURES,
        "licenseCodes": ["1001010"],
        "storageLocations": ["eu", "asia", "us"],
        "architecture": "X86_64",
    }


def _plain_list(project: str, req: Request, path: str, kind: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    return _list_response(kind, f"projects/{project}/{path}", docs, req)


def _aggregated(
    project: str, req: Request, key: str, kind: str, entries: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """An aggregated list keyed ``zones/ZONE``; a zone with nothing on the page carries Compute's NO_RESULTS_ON_PAGE
    warning instead of items, as Compute answers (compute_v1 *ScopedList.warning)."""
    listed = _list_response(kind, f"projects/{project}/aggregated/{key}", entries, req)
    page: list[tuple[str, dict[str, Any]]] = listed.get("items", [])
    items: dict[str, dict[str, Any]] = {}
    for zone in sorted(ZONES):
        items[f"zones/{zone}"] = {
            "warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": f"There are no results for scope 'zones/{zone}' on this page.",
                "data": [{"key": "scope", "value": f"zones/{zone}"}],
            }
        }
    for zone, doc in page:
        scoped = items[f"zones/{zone}"]
        scoped.pop("warning", None)
        scoped.setdefault(key, []).append(doc)
    return {**listed, "items": items}


def register(emulator: Emulator) -> None:
    compute = ComputeEngine(emulator)
    emulator.settings.setdefault("compute_operation_s", 0.2)
    emulator.settings.setdefault("compute_wait_timeout_s", 120.0)
    emulator.settings.setdefault("compute_exhausted_zones", [])
    emulator.settings.setdefault("compute_quota_overrides", {})
    emulator.settings.setdefault("compute_clock_advance_s", 0.0)
    router = emulator.router
    base = "/compute/v1/projects/{project}"
    instance = base + "/zones/{zone}/instances/{instance}"
    router.add("POST", base + "/zones/{zone}/instances", compute.insert_instance)
    router.add("GET", base + "/zones/{zone}/instances", compute.list_instances)
    router.add("GET", base + "/aggregated/instances", compute.aggregated_instances)
    router.add("GET", instance, compute.get_instance)
    router.add("DELETE", instance, compute.delete_instance)
    router.add("POST", instance + "/setMetadata", compute.set_metadata)
    router.add("POST", instance + "/setScheduling", compute.set_scheduling)
    router.add("POST", instance + "/reset", compute.reset)
    router.add("POST", instance + "/stop", compute.stop)
    router.add("POST", instance + "/start", compute.start)
    router.add("GET", instance + "/serialPort", compute.serial_port)

    for scope_template, kind, scope_of in (
        ("/zones/{zone}", "zone", lambda p: f"zones/{p['zone']}"),
        ("/regions/{region}", "region", lambda p: f"regions/{p['region']}"),
        ("/global", "global", lambda p: "global"),
    ):
        _register_operations(router, base + scope_template, compute, kind, scope_of)

    router.add("POST", base + "/global/firewalls", compute.insert_firewall)
    router.add("GET", base + "/global/firewalls", compute.list_firewalls)
    router.add("GET", base + "/global/firewalls/{firewall}", compute.get_firewall)
    router.add("PATCH", base + "/global/firewalls/{firewall}", compute.patch_firewall)
    router.add("DELETE", base + "/global/firewalls/{firewall}", compute.delete_firewall)

    router.add("GET", base + "/global/images/family/{family}", compute.image_from_family)
    router.add("GET", base + "/global/images/{image}", compute.get_image)
    router.add("GET", base + "/global/images", compute.list_images)

    router.add("GET", base + "/aggregated/acceleratorTypes", compute.aggregated_accelerator_types)
    router.add("GET", base + "/zones/{zone}/acceleratorTypes", compute.list_accelerator_types)
    router.add("GET", base + "/zones/{zone}/acceleratorTypes/{accelerator_type}", compute.get_accelerator_type)
    router.add("GET", base + "/aggregated/machineTypes", compute.aggregated_machine_types)
    router.add("GET", base + "/zones/{zone}/machineTypes", compute.list_machine_types)
    router.add("GET", base + "/zones/{zone}/machineTypes/{machine_type}", compute.get_machine_type)
    router.add("GET", base + "/regions", compute.list_regions)
    router.add("GET", base + "/regions/{region}", compute.get_region)
    router.add("GET", base + "/zones", compute.list_zones)
    router.add("GET", base + "/zones/{zone}", compute.get_zone)
    router.add("GET", base, compute.get_project)


def _register_operations(
    router: Any, scope_base: str, compute: ComputeEngine, kind: str, scope_of: Callable[[dict[str, str]], str]
) -> None:
    request_types = {
        "zone": (
            compute_v1.GetZoneOperationRequest,
            compute_v1.WaitZoneOperationRequest,
            compute_v1.ListZoneOperationsRequest,
            compute_v1.DeleteZoneOperationRequest,
            ("project", "zone"),
        ),
        "region": (
            compute_v1.GetRegionOperationRequest,
            compute_v1.WaitRegionOperationRequest,
            compute_v1.ListRegionOperationsRequest,
            compute_v1.DeleteRegionOperationRequest,
            ("project", "region"),
        ),
        "global": (
            compute_v1.GetGlobalOperationRequest,
            compute_v1.WaitGlobalOperationRequest,
            compute_v1.ListGlobalOperationsRequest,
            compute_v1.DeleteGlobalOperationRequest,
            ("project",),
        ),
    }
    get_type, wait_type, list_type, delete_type, path = request_types[kind]

    def get(req: Request, project: str, operation: str, **scope: str) -> dict[str, Any]:
        _check_query(req, get_type, path=(*path, "operation"))
        return compute.get_operation(req, project, scope_of(scope), operation, kind)

    def wait(req: Request, project: str, operation: str, **scope: str) -> dict[str, Any]:
        _check_query(req, wait_type, path=(*path, "operation"))
        return compute.wait_operation(req, project, scope_of(scope), operation, kind)

    def list_all(req: Request, project: str, **scope: str) -> dict[str, Any]:
        _check_query(req, list_type, path=path)
        return compute.list_operations(req, project, scope_of(scope), kind)

    def delete(req: Request, project: str, operation: str, **scope: str) -> dict[str, Any]:
        _check_query(req, delete_type, path=(*path, "operation"))
        return compute.delete_operation(req, project, scope_of(scope), operation, kind)

    router.add("GET", scope_base + "/operations/{operation}", get)
    router.add("POST", scope_base + "/operations/{operation}/wait", wait)
    router.add("GET", scope_base + "/operations", list_all)
    router.add("DELETE", scope_base + "/operations/{operation}", delete)
