"""An instance body's checks and Google's defaults: machine type, disks, GPUs, scheduling, metadata, network."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from deployer_emulator.compute import catalogue
from deployer_emulator.compute.base import _API_PREFIX_RE, API, INSTANCES, EngineBase, _copy, _fingerprint
from deployer_emulator.compute.errors import (
    ComputeError,
    _bad_request,
    _incompatible,
    _invalid_field,
    _malformed,
    _not_found,
)
from deployer_emulator.compute.listings import _COS_GUEST_OS_FEATURES

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


def _taxonomy_message(disk_type: str, shape: catalogue.MachineShape) -> str:
    family, generation = catalogue.TAXONOMY.get(shape.family, (shape.family.upper(), "GEN_1"))
    taxonomy = (
        f"instance_type: VIRTUAL_MACHINE\nfamily: {family}\ngeneration: {generation}\ncpu_vendor: INTEL\n"
        "architecture: X86_64\n"
    )
    return f"[{disk_type}] features and [{taxonomy}] InstanceTaxonomies are not compatible for creating instance"


class InstanceSpecs(EngineBase):
    """Normalizes the parts of an Instance a request gives, with Compute's errors."""

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
        free = (
            str(ip)
            for pool in catalogue.EXTERNAL_POOLS
            for ip in ipaddress.ip_network(pool).hosts()
            if str(ip) not in used
        )
        for nic in instance.get("networkInterfaces", []):
            for config in nic.get("accessConfigs", []):
                if not config.get("natIP"):
                    address = next(free, None)
                    if address is None:
                        raise ComputeError(503, "resourceExhausted", "The emulator has no external address left.")
                    config["natIP"] = address

    def _internal_ip(self, project: str, region: str) -> str:
        used = {
            str(nic.get("networkIP"))
            for key, instance in self._table(INSTANCES).items()
            if key.startswith(f"projects/{project}/")
            for nic in instance.get("networkInterfaces", [])
        }
        subnet = ipaddress.ip_network(catalogue.DEFAULT_SUBNETS.get(region, "10.200.0.0/20"))
        for index, host in enumerate(subnet.hosts()):
            if index >= 1 and str(host) not in used:  # .1 is the subnet's gateway
                return str(host)
        raise ComputeError(503, "resourceExhausted", f"The default subnet of {region} has no address left.")

    def _resolve_machine_type(self, value: str, zone: str, path: str) -> catalogue.MachineShape:
        match = re.fullmatch(_API_PREFIX_RE + r"(?:projects/[^/]+/)?zones/([^/]+)/machineTypes/([^/]+)", value)
        if match is None:
            raise _malformed(path, value)
        given_zone, name = match.group(1), match.group(2)
        shape = catalogue.MACHINE_TYPES.get(name)
        if given_zone != zone or shape is None or shape not in catalogue.machine_types_in(zone):
            raise _invalid_field(path, value, f"Machine type with name '{name}' does not exist in zone '{zone}'.")
        return shape

    def _resolve_image(self, project: str, value: str, path: str) -> catalogue.CosImage:
        match = re.fullmatch(
            _API_PREFIX_RE
            + r"(?:projects/(?P<project>[^/]+)/)?global/images/(?:family/(?P<family>[^/]+)|(?P<image>[^/]+))",
            value,
        )
        if match is None:
            raise _malformed(path, value)
        image_project = match.group("project") or project
        found = catalogue.find_image(image_project, family=match.group("family"), name=match.group("image"))
        if found is None:
            # "Invalid value for field 'resource.disks[0].initializeParams.sourceImage': '...'. The referenced image
            # resource cannot be found." (400, invalid)
            raise _invalid_field(path, value, "The referenced image resource cannot be found.")
        return found

    def _normalize_disks(
        self, project: str, zone: str, name: str, shape: catalogue.MachineShape, disks: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[str], catalogue.CosImage]:
        if not disks:
            # Unconfirmed wording: an instance needs a boot disk.
            raise _invalid_field("resource.disks", "", "At least one boot disk must be specified.")
        boots = [i for i, d in enumerate(disks) if d.get("boot")]
        if len(boots) > 1:
            raise _invalid_field(f"resource.disks[{boots[1]}].boot", "true", "Only one boot disk may be specified.")
        boot_index = boots[0] if boots else 0
        image: catalogue.CosImage | None = None
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
                size = size or catalogue.COS_IMAGE_GB
                if size < catalogue.COS_IMAGE_GB:
                    # Unconfirmed wording; the rule is AttachedDiskInitializeParams.disk_size_gb's docstring.
                    raise _invalid_field(
                        f"{path}.initializeParams.diskSizeGb",
                        size,
                        f"Requested disk size cannot be smaller than the image size ({catalogue.COS_IMAGE_GB} GB)",
                    )
            else:
                size = size or 500  # "If you do not specify a sourceImage, the default disk size is 500 GB."
                if size < 10:
                    raise _invalid_field(
                        f"{path}.initializeParams.diskSizeGb", size, "The size must be at least 10 GB."
                    )
            disk_type = self._resolve_disk_type(project, zone, str(params.get("diskType") or ""), path)
            series = "a3-ultragpu" if shape.name.startswith("a3-ultragpu-") else shape.family
            if disk_type not in catalogue.FAMILY_DISKS.get(series, catalogue.DISK_TYPES):
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
                doc["licenses"] = [API + f"projects/{catalogue.COS_PROJECT}/global/licenses/cos"]
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
        if match.group(1) != zone or match.group(2) not in catalogue.DISK_TYPES:
            raise _not_found(f"projects/{project}/zones/{match.group(1)}/diskTypes/{match.group(2)}")
        return match.group(2)

    def _normalize_accelerators(
        self, project: str, zone: str, shape: catalogue.MachineShape, given: list[dict[str, Any]]
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
            if accelerator_zone != zone or name not in catalogue.ZONES[zone]:
                # "The resource 'projects/p/zones/us-west1-b/acceleratorTypes/nvidia-tesla-p4' was not found"
                # (https://github.com/fastai/course-v3/pull/430; HTTP status unconfirmed).
                raise _not_found(f"projects/{project}/zones/{accelerator_zone}/acceleratorTypes/{name}")
            known = catalogue.ACCELERATORS[name]
            if shape.family != "n1" or not known.n1_counts:
                raise _incompatible(name, shape.name)
            count = int(accelerator.get("acceleratorCount", 0))
            if count not in known.n1_counts:
                # Unconfirmed wording; the valid counts are https://cloud.google.com/compute/docs/gpus#n1-gpus.
                allowed = ", ".join(str(c) for c in known.n1_counts)
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
        region = catalogue.region_of(zone)
        out: list[dict[str, Any]] = []
        for index, nic in enumerate(given):
            path = f"resource.networkInterfaces[{index}]"
            _check_default_network(project, str(nic.get("network") or "global/networks/default"), f"{path}.network")
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


def _check_default_network(project: str, network: str, path: str) -> None:
    match = re.fullmatch(_API_PREFIX_RE + r"(?:projects/([^/]+)/)?global/networks/([^/]+)", network)
    if match is None:
        raise _malformed(path, network)
    if match.group(2) != "default":
        # The open world has each project's default network only.
        raise _not_found(f"projects/{match.group(1) or project}/global/networks/{match.group(2)}")
