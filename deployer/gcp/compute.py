"""Compute Engine: instances, firewalls, the COS image, accelerator types, regions and quotas.

Only the calls deployer uses. Results are deployer's own dataclasses holding the REST JSON (camelCase) Google sent.

Operations: the library's ``ExtendedOperation.result()`` polls through an operations client it builds itself,
without the endpoint options it was given (``InstancesRestTransport._zone_operations_client``), so against the
emulator it would call the real Google. This adapter sends the ``*_unary`` methods, which return the Operation,
and waits through its own ``ZoneOperationsClient`` / ``GlobalOperationsClient`` built with the same options,
calling ``wait`` (which returns after at most about 2 minutes, done or not) until the operation is DONE.

A finished operation's ``error.errors[]`` carries Google's codes; the ones deployer acts on become typed errors:
``ZoneCapacityError`` (ZONE_RESOURCE_POOL_EXHAUSTED: try another zone) and ``QuotaExceededError`` (QUOTA_EXCEEDED).
Google reports either as a failed operation or, for some requests, as the insert's own HTTP error: both are read.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp.bodies.compute import COS_FAMILY, COS_PROJECT
from deployer.gcp.clients import Adapter
from deployer.gcp.errors import google_call

# How long a create, delete or restart may take before deployer stops waiting (the operation goes on in Google).
OPERATION_TIMEOUT_S = 900.0
# Each `wait` call is answered within about 2 minutes; the HTTP timeout leaves room for that.
WAIT_CALL_TIMEOUT_S = 150.0

# Operation error codes: https://cloud.google.com/compute/docs/troubleshooting/troubleshooting-resource-availability
CAPACITY_CODES = frozenset({"ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"})
QUOTA_CODES = frozenset({"QUOTA_EXCEEDED", "quotaExceeded"})
_QUOTA_IN_MESSAGE = re.compile(r"Quota '([A-Z0-9_]+)' exceeded")


def _to_doc(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return dict(json_format.MessageToDict(type(message).pb(message)))


def _last(url: str | None) -> str:
    return (url or "").rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Instance:
    doc: dict[str, Any]  # the instance as REST JSON

    @property
    def name(self) -> str:
        return str(self.doc.get("name", ""))

    @property
    def zone(self) -> str:
        return _last(self.doc.get("zone"))

    @property
    def status(self) -> str:
        """PROVISIONING, STAGING, RUNNING, STOPPING, STOPPED, SUSPENDING, SUSPENDED, REPAIRING or TERMINATED."""
        return str(self.doc.get("status", ""))

    @property
    def machine_type(self) -> str:
        return _last(self.doc.get("machineType"))

    @property
    def external_ip(self) -> str:
        for interface in self.doc.get("networkInterfaces", []):
            for config in interface.get("accessConfigs", []):
                if config.get("natIP"):
                    return str(config["natIP"])
        return ""

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.doc.get("labels") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.doc.get("metadata") or {})

    @property
    def guest_accelerators(self) -> list[tuple[str, int]]:
        return [
            (_last(a.get("acceleratorType")), int(a.get("acceleratorCount", 0)))
            for a in self.doc.get("guestAccelerators", [])
        ]


@dataclass(frozen=True)
class Image:
    name: str
    self_link: str
    disk_size_gb: int


@dataclass(frozen=True)
class Quota:
    metric: str
    limit: float
    usage: float

    @property
    def available(self) -> float:
        return self.limit - self.usage


@dataclass(frozen=True)
class Region:
    name: str
    zones: tuple[str, ...]
    quotas: dict[str, Quota] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    default_service_account: str
    quotas: dict[str, Quota] = field(default_factory=dict)


@dataclass(frozen=True)
class MachineType:
    name: str
    guest_cpus: int
    memory_mb: int
    accelerators: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class SerialOutput:
    contents: str
    next_start: int


class OperationFailed(DeployerError):
    """A Compute Engine operation ended with errors: Google's codes and messages."""

    def __init__(self, action: str, codes: list[str], messages: list[str], *, hint: str | None = None) -> None:
        detail = "; ".join(messages) or ", ".join(codes) or "no detail"
        super().__init__(f"{action} failed: {detail}", hint)
        self.codes = codes
        self.messages = messages


class ZoneCapacityError(OperationFailed):
    """The zone has no capacity for this machine (ZONE_RESOURCE_POOL_EXHAUSTED): another zone may."""

    def __init__(self, action: str, zone: str, codes: list[str], messages: list[str]) -> None:
        super().__init__(action, codes, messages, hint="try another zone of the region (zone = ...), or again later")
        self.zone = zone


class QuotaExceededError(OperationFailed):
    def __init__(self, action: str, project: str, metric: str | None, codes: list[str], messages: list[str]) -> None:
        url = quota_console_url(project, metric)
        super().__init__(action, codes, messages, hint=f"request more quota: {url}")
        self.metric = metric


def quota_console_url(project: str, metric: str | None = None) -> str:
    """Where to ask for more quota: the Cloud Console quotas page, filtered to the metric."""
    url = f"https://console.cloud.google.com/iam-admin/quotas?project={project}"
    return f"{url}&metric={metric}" if metric else url


def _quotas(items: list[dict[str, Any]]) -> dict[str, Quota]:
    return {
        str(q["metric"]): Quota(str(q["metric"]), float(q.get("limit", 0)), float(q.get("usage", 0)))
        for q in items
        if q.get("metric")
    }


def _classify(action: str, project: str, zone: str, codes: list[str], messages: list[str], metric: str | None) -> None:
    """Raise the typed error for Google's codes, or OperationFailed."""
    if any(code in CAPACITY_CODES for code in codes):
        raise ZoneCapacityError(action, zone, codes, messages)
    if any(code in QUOTA_CODES for code in codes):
        if metric is None:
            found = next((m for m in (_QUOTA_IN_MESSAGE.search(msg) for msg in messages) if m), None)
            metric = found.group(1) if found else None
        raise QuotaExceededError(action, project, metric, codes, messages)
    raise OperationFailed(action, codes, messages)


# The permissions the calls below need to deploy a VM: the preflight reads (region, machine type, accelerators,
# project quotas, the live VM and its firewall rule), instances.insert with a disk, a NIC with an external IP,
# labels and a service account (Compute Engine's "Required permissions" for instances.insert), and setMetadata plus
# reset for an update. A VM with ports also writes its firewall rule: firewalls.insert/patch need
# compute.firewalls.create/update and compute.networks.updatePolicy on the network
# (https://cloud.google.com/compute/docs/reference/rest/v1/firewalls/insert), which roles/compute.instanceAdmin.v1
# lacks.
VM_PERMISSIONS = (
    "compute.regions.get",
    "compute.machineTypes.get",
    "compute.acceleratorTypes.list",
    "compute.projects.get",
    "compute.instances.get",
    "compute.instances.list",
    "compute.firewalls.get",
    "compute.instances.create",
    "compute.disks.create",
    "compute.subnetworks.use",
    "compute.subnetworks.useExternalIp",
    "compute.instances.setLabels",
    "compute.instances.setServiceAccount",
    "compute.instances.setMetadata",
    "compute.instances.reset",
)
FIREWALL_PERMISSIONS = ("compute.firewalls.create", "compute.firewalls.update", "compute.networks.updatePolicy")


class ComputeAdapter(Adapter):
    def _client(self, name: str) -> Any:
        return self._clients.compute(name)

    # --- operations ----------------------------------------------------------------------------------------------

    def _wait(self, operation: Any, *, project: str, zone: str | None, action: str) -> dict[str, Any]:
        """Wait until the operation is DONE (through clients built with our endpoint options); raise its errors."""
        deadline = time.monotonic() + OPERATION_TIMEOUT_S
        op = operation
        while _status_name(op) != "DONE":
            if time.monotonic() > deadline:
                raise DeployerError(
                    f"{action}: still running after {int(OPERATION_TIMEOUT_S)}s (operation {op.name})",
                    "it goes on in Google Cloud: run the command again later to see where it stands",
                )
            with google_call(f"waiting for {action}", project=project):
                if zone:
                    op = self._client("ZoneOperationsClient").wait(
                        project=project, zone=zone, operation=op.name, timeout=WAIT_CALL_TIMEOUT_S
                    )
                else:
                    op = self._client("GlobalOperationsClient").wait(
                        project=project, operation=op.name, timeout=WAIT_CALL_TIMEOUT_S
                    )
        doc = _to_doc(op)
        errors = (doc.get("error") or {}).get("errors", [])
        if errors:
            codes = [str(e.get("code", "")) for e in errors]
            messages = [str(e.get("message", "")) for e in errors if e.get("message")]
            metric = next(
                (
                    str(detail["quotaInfo"]["metricName"])
                    for e in errors
                    for detail in e.get("errorDetails", [])
                    if (detail.get("quotaInfo") or {}).get("metricName")
                ),
                None,
            )
            _classify(action, project, zone or "", codes, messages, metric)
        return doc

    def _send(self, call: Any, *, action: str, project: str, zone: str | None) -> dict[str, Any]:
        """Send a mutating call and wait for its operation; Google's immediate refusals are classified too."""
        from google.api_core import exceptions as gexc

        try:
            with google_call(action, project=project):
                operation = call()
        except DeployerError as error:
            cause = error.__cause__
            if isinstance(cause, gexc.GoogleAPICallError):
                reasons = [str(e.get("reason", "")) for e in (cause.errors or []) if isinstance(e, dict)]
                reasons += [str(cause.reason)] if getattr(cause, "reason", None) else []
                message = cause.message or str(cause)
                if any(r in CAPACITY_CODES | QUOTA_CODES for r in reasons):
                    _classify(action, project, zone or "", reasons, [message], None)
            raise
        return self._wait(operation, project=project, zone=zone, action=action)

    # --- instances -----------------------------------------------------------------------------------------------

    def _instance_op(self, method: str, project: str, zone: str, *, action: str, **fields: Any) -> None:
        """One ``InstancesClient`` call in ``zone``, its operation waited for like every other."""
        self._send(
            lambda: getattr(self._client("InstancesClient"), method)(project=project, zone=zone, **fields),
            action=action,
            project=project,
            zone=zone,
        )

    def get_instance(self, project: str, zone: str, name: str) -> Instance | None:
        from google.api_core import exceptions as gexc

        with google_call(f"looking up VM {name} in {zone}", project=project):
            try:
                return Instance(_to_doc(self._client("InstancesClient").get(project=project, zone=zone, instance=name)))
            except gexc.NotFound:
                return None

    def find_instance(self, project: str, zones: list[str], name: str) -> Instance | None:
        """The instance in the first of ``zones`` that has one by this name."""
        for zone in zones:
            found = self.get_instance(project, zone, name)
            if found is not None:
                return found
        return None

    def insert_instance(self, project: str, zone: str, body: dict[str, Any]) -> Instance:
        import json

        from google.cloud import compute_v1

        instance = compute_v1.Instance.from_json(json.dumps(body), ignore_unknown_fields=False)
        name = body["name"]
        self._instance_op(
            "insert_unary", project, zone, instance_resource=instance, action=f"creating VM {name} in {zone}"
        )
        created = self.get_instance(project, zone, name)
        if created is None:
            raise DeployerError(f"VM {name} was created in {zone} but cannot be read back", "run the command again")
        return created

    def delete_instance(self, project: str, zone: str, name: str) -> None:
        self._instance_op("delete_unary", project, zone, instance=name, action=f"deleting VM {name} in {zone}")

    def set_metadata(self, project: str, zone: str, name: str, metadata: dict[str, Any]) -> None:
        import json

        from google.cloud import compute_v1

        resource = compute_v1.Metadata.from_json(json.dumps(metadata), ignore_unknown_fields=False)
        self._instance_op(
            "set_metadata_unary",
            project,
            zone,
            instance=name,
            metadata_resource=resource,
            action=f"updating the metadata of VM {name}",
        )

    def reset(self, project: str, zone: str, name: str) -> None:
        self._instance_op("reset_unary", project, zone, instance=name, action=f"restarting VM {name}")

    def start(self, project: str, zone: str, name: str) -> None:
        self._instance_op("start_unary", project, zone, instance=name, action=f"starting VM {name}")

    def stop(self, project: str, zone: str, name: str) -> None:
        self._instance_op("stop_unary", project, zone, instance=name, action=f"stopping VM {name}")

    def serial_output(self, project: str, zone: str, name: str, *, start: int | None = None) -> SerialOutput:
        request: dict[str, Any] = {"project": project, "zone": zone, "instance": name, "port": 1}
        if start is not None:
            request["start"] = start
        with google_call(f"reading the serial port output of VM {name}", project=project):
            output = self._client("InstancesClient").get_serial_port_output(request=request)
        doc = _to_doc(output)
        return SerialOutput(str(doc.get("contents", "")), int(doc.get("next", 0) or 0))

    # --- firewalls -----------------------------------------------------------------------------------------------

    def get_firewall(self, project: str, name: str) -> dict[str, Any] | None:
        from google.api_core import exceptions as gexc

        with google_call(f"looking up firewall rule {name}", project=project):
            try:
                return _to_doc(self._client("FirewallsClient").get(project=project, firewall=name))
            except gexc.NotFound:
                return None

    def insert_firewall(self, project: str, body: dict[str, Any]) -> None:
        import json

        from google.cloud import compute_v1

        resource = compute_v1.Firewall.from_json(json.dumps(body), ignore_unknown_fields=False)
        self._send(
            lambda: self._client("FirewallsClient").insert_unary(project=project, firewall_resource=resource),
            action=f"creating firewall rule {body['name']}",
            project=project,
            zone=None,
        )

    def patch_firewall(self, project: str, name: str, body: dict[str, Any]) -> None:
        import json

        from google.cloud import compute_v1

        resource = compute_v1.Firewall.from_json(json.dumps(body), ignore_unknown_fields=False)
        self._send(
            lambda: self._client("FirewallsClient").patch_unary(
                project=project, firewall=name, firewall_resource=resource
            ),
            action=f"updating firewall rule {name}",
            project=project,
            zone=None,
        )

    def delete_firewall(self, project: str, name: str) -> None:
        self._send(
            lambda: self._client("FirewallsClient").delete_unary(project=project, firewall=name),
            action=f"deleting firewall rule {name}",
            project=project,
            zone=None,
        )

    # --- what the project and region offer ----------------------------------------------------------------------

    def cos_image(self, project: str = COS_PROJECT, family: str = COS_FAMILY) -> Image:
        """The current image of the family (images.getFromFamily), e.g. cos-stable's latest."""
        with google_call(f"looking up the current {family} image", project=project):
            image = _to_doc(self._client("ImagesClient").get_from_family(project=project, family=family))
        self_link = str(image.get("selfLink") or f"projects/{project}/global/images/{image.get('name', '')}")
        return Image(str(image.get("name", "")), self_link, int(image.get("diskSizeGb", 0) or 0))

    def accelerator_zones(self, project: str, accelerator: str) -> list[str]:
        """Every zone that offers the accelerator type (aggregated acceleratorTypes), sorted."""
        request = {"project": project, "filter": f'name = "{accelerator}"'}
        zones: set[str] = set()
        with google_call(f"looking up where {accelerator} is offered", project=project):
            for key, scoped in self._client("AcceleratorTypesClient").aggregated_list(request=request):
                for item in scoped.accelerator_types:
                    if item.name == accelerator:
                        zones.add(_last(item.zone) or key.removeprefix("zones/"))
        return sorted(zones)

    def region(self, project: str, region: str) -> Region:
        with google_call(f"reading region {region}", project=project):
            doc = _to_doc(self._client("RegionsClient").get(project=project, region=region))
        return Region(
            name=str(doc.get("name", region)),
            zones=tuple(sorted(_last(z) for z in doc.get("zones", []))),
            quotas=_quotas(doc.get("quotas", [])),
        )

    def project(self, project: str) -> ProjectInfo:
        with google_call("reading the project's Compute Engine settings", project=project):
            doc = _to_doc(self._client("ProjectsClient").get(project=project))
        return ProjectInfo(
            name=str(doc.get("name", project)),
            default_service_account=str(doc.get("defaultServiceAccount", "")),
            quotas=_quotas(doc.get("quotas", [])),
        )

    def machine_type(self, project: str, zone: str, name: str) -> MachineType | None:
        from google.api_core import exceptions as gexc

        with google_call(f"looking up machine type {name} in {zone}", project=project):
            try:
                doc = _to_doc(self._client("MachineTypesClient").get(project=project, zone=zone, machine_type=name))
            except gexc.NotFound:
                return None
        return MachineType(
            name=str(doc.get("name", name)),
            guest_cpus=int(doc.get("guestCpus", 0)),
            memory_mb=int(doc.get("memoryMb", 0)),
            accelerators=tuple(
                (str(a.get("guestAcceleratorType", "")), int(a.get("guestAcceleratorCount", 0)))
                for a in doc.get("accelerators", [])
            ),
        )


def _status_name(operation: Any) -> str:
    status = getattr(operation, "status", None)
    return str(getattr(status, "name", status) or "")
