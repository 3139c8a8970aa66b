"""Compute Engine: the Instance, Metadata and Firewall bodies, as the REST JSON on the wire.

Tested as values and parsed strictly by ``compute_v1.Instance`` / ``compute_v1.Firewall``; ``--dry-run`` prints
exactly these. Field meanings: google-cloud-compute's ``types/compute.py`` and
https://cloud.google.com/compute/docs/reference/rest/v1/instances/insert.

Also here: how a live instance compares with what the config asks for, so the deployer knows whether the VM can be
updated in place (metadata and a restart) or must be recreated (its shape changed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from deployer.gcp.bodies.labels import MANAGED_BY_TEXT, managed_by_label

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
COS_PROJECT = "cos-cloud"
COS_FAMILY = "cos-stable"
COS_FAMILY_URL = f"projects/{COS_PROJECT}/global/images/family/{COS_FAMILY}"
DEFAULT_NETWORK = "global/networks/default"
USER_DATA_KEY = "user-data"
LOGGING_KEY = "google-logging-enabled"
# The deprecated container startup agent's key: deployer never writes it (see bodies/cloud_init.py).
CONTAINER_DECLARATION_KEY = "gce-container-declaration"
MAX_NAME = 63  # instance, firewall and network tag names: RFC 1035, at most 63 characters


def _short_name(prefix: str, name: str, suffix: str = "") -> str:
    """``prefix + name + suffix`` within 63 characters: a long name is cut and a hash of it keeps it unique."""
    full = f"{prefix}{name}{suffix}"
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = MAX_NAME - len(prefix) - len(suffix) - len(digest) - 1
    return f"{prefix}{name[:keep].rstrip('-')}-{digest}{suffix}"


def network_tag(vm: str) -> str:
    """The network tag deployer puts on the VM; its firewall rule targets it."""
    return _short_name("deployer-", vm)


def firewall_name(vm: str) -> str:
    return _short_name("deployer-", vm, "-allow")


@dataclass(frozen=True)
class InstanceSpec:
    """Everything an instance body needs, resolved: the zone, the image, the GPUs, the rendered user-data."""

    name: str
    zone: str
    machine_type: str
    source_image: str  # the resolved COS image, e.g. projects/cos-cloud/global/images/cos-stable-121-…
    disk_gb: int
    disk_type: str  # pd-balanced or hyperdisk-balanced
    user_data: str
    service_account: str  # email
    gpu_type: str | None = None
    gpu_count: int = 0
    guest_accelerators: bool = False  # N1: attach as guestAccelerators; G2/A2/A3/A4 carry them in the machine type
    spot: bool = False
    termination_action: str = "STOP"
    max_run_seconds: int | None = None

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0


def scheduling_body(spec: InstanceSpec) -> dict[str, Any]:
    """``scheduling``: every field deployer decides, set explicitly so a read-back compares field by field.

    - GPU VMs cannot live-migrate: onHostMaintenance must be TERMINATE
      (https://cloud.google.com/compute/docs/gpus/gpu-host-maintenance); spot VMs are TERMINATE too.
    - Spot: provisioningModel SPOT, and automaticRestart false (Google refuses true for spot VMs:
      https://cloud.google.com/compute/docs/instances/spot).
    - instanceTerminationAction says what preemption or the end of maxRunDuration does (STOP or DELETE); Google
      requires it with maxRunDuration (https://cloud.google.com/compute/docs/instances/limit-vm-runtime).
    """
    terminate = spec.has_gpu or spec.spot
    body: dict[str, Any] = {
        "onHostMaintenance": "TERMINATE" if terminate else "MIGRATE",
        "automaticRestart": not spec.spot,
        "provisioningModel": "SPOT" if spec.spot else "STANDARD",
    }
    if spec.spot or spec.max_run_seconds:
        body["instanceTerminationAction"] = spec.termination_action
    if spec.max_run_seconds:
        # Duration.seconds is an int64: REST JSON carries it as a string.
        body["maxRunDuration"] = {"seconds": str(spec.max_run_seconds)}
    return body


def metadata_items(user_data: str) -> list[dict[str, str]]:
    return [{"key": USER_DATA_KEY, "value": user_data}, {"key": LOGGING_KEY, "value": "true"}]


def instance_body(spec: InstanceSpec) -> dict[str, Any]:
    """A Compute Engine ``Instance`` running Container-Optimized OS with the rendered cloud-init."""
    zone = spec.zone
    body: dict[str, Any] = {
        "name": spec.name,
        "machineType": f"zones/{zone}/machineTypes/{spec.machine_type}",
        "labels": managed_by_label(),
        "tags": {"items": [network_tag(spec.name)]},
        "disks": [
            {
                "boot": True,
                "autoDelete": True,
                "type": "PERSISTENT",
                "initializeParams": {
                    "sourceImage": spec.source_image,
                    "diskSizeGb": str(spec.disk_gb),
                    "diskType": f"zones/{zone}/diskTypes/{spec.disk_type}",
                },
            }
        ],
        "networkInterfaces": [
            {"network": DEFAULT_NETWORK, "accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]}
        ],
        "scheduling": scheduling_body(spec),
        "metadata": {"items": metadata_items(spec.user_data)},
        "serviceAccounts": [{"email": spec.service_account, "scopes": [CLOUD_PLATFORM_SCOPE]}],
    }
    if spec.guest_accelerators and spec.gpu_type:
        body["guestAccelerators"] = [
            {"acceleratorType": f"zones/{zone}/acceleratorTypes/{spec.gpu_type}", "acceleratorCount": spec.gpu_count}
        ]
    return body


def set_metadata_body(current_metadata: dict[str, Any], user_data: str) -> dict[str, Any]:
    """``setMetadata``: our items replaced, everyone else's kept, with the fingerprint read from the instance.

    setMetadata replaces the whole item list, and a stale fingerprint makes Google refuse it (412): the update is
    guarded against a concurrent change.
    """
    ours = metadata_items(user_data)
    owned = {item["key"] for item in ours}
    kept = [dict(item) for item in current_metadata.get("items", []) if item.get("key") not in owned]
    body: dict[str, Any] = {"items": [*kept, *ours]}
    if current_metadata.get("fingerprint"):
        body["fingerprint"] = current_metadata["fingerprint"]
    return body


def firewall_body(vm: str, ports: tuple[int, ...]) -> dict[str, Any]:
    """A rule letting TCP traffic to ``ports`` reach the VM (by its network tag) from anywhere."""
    return {
        "name": firewall_name(vm),
        # Firewall rules have no labels: the description says whose the rule is (labels.describes_managed).
        "description": f"{MANAGED_BY_TEXT}: TCP {', '.join(str(p) for p in ports)} to VM {vm}",
        "network": DEFAULT_NETWORK,
        "direction": "INGRESS",
        "priority": 1000,
        "allowed": [{"IPProtocol": "tcp", "ports": [str(p) for p in sorted(ports)]}],
        "sourceRanges": ["0.0.0.0/0"],
        "targetTags": [network_tag(vm)],
    }


# --- comparing a live instance with the config ----------------------------------------------------------------------


def _last_segment(url: str | None) -> str:
    return (url or "").rstrip("/").rsplit("/", 1)[-1]


def metadata_value(instance: dict[str, Any], key: str) -> str | None:
    for item in (instance.get("metadata") or {}).get("items", []):
        if item.get("key") == key:
            return str(item.get("value", ""))
    return None


def shape_differences(desired: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs in the instance's shape, which only a recreate changes: machine type, GPUs, boot disk size,
    scheduling, service account. Fields Google fills in that deployer does not set are not differences.
    """
    found: list[str] = []
    if _last_segment(desired["machineType"]) != _last_segment(current.get("machineType")):
        found.append(
            f"machine type {_last_segment(current.get('machineType'))} → {_last_segment(desired['machineType'])}"
        )
    want_gpus = [
        (_last_segment(a["acceleratorType"]), int(a["acceleratorCount"])) for a in desired.get("guestAccelerators", [])
    ]
    have_gpus = [
        (_last_segment(a.get("acceleratorType")), int(a.get("acceleratorCount", 0)))
        for a in current.get("guestAccelerators", [])
    ]
    # On G2/A2/A3/A4 Google lists the machine type's own GPUs here: only N1's attached ones are deployer's to compare.
    compare_gpus = bool(want_gpus) or _last_segment(desired["machineType"]).startswith("n1-")
    if compare_gpus and sorted(want_gpus) != sorted(have_gpus):
        found.append(f"GPUs {_gpus_text(have_gpus)} → {_gpus_text(want_gpus)}")
    want_disk = desired["disks"][0]["initializeParams"]["diskSizeGb"]
    boot: dict[str, Any] = next((d for d in current.get("disks", []) if d.get("boot")), {})
    if boot.get("diskSizeGb") is not None and str(boot["diskSizeGb"]) != str(want_disk):
        found.append(f"boot disk {boot['diskSizeGb']} GB → {want_disk} GB")
    want_sched = desired.get("scheduling", {})
    have_sched = current.get("scheduling") or {}
    for key, value in want_sched.items():
        have = have_sched.get(key)
        if key == "maxRunDuration":
            have = str((have or {}).get("seconds", "")) or None
            value = value["seconds"]
        if have is None and key == "automaticRestart":
            have = True  # unset means Google's default, which is true
        if str(have) != str(value):
            found.append(f"scheduling.{key} {have} → {value}")
    if "maxRunDuration" not in want_sched and (have_sched.get("maxRunDuration") or {}).get("seconds"):
        found.append(f"scheduling.maxRunDuration {have_sched['maxRunDuration']['seconds']}s → none")
    want_account = desired["serviceAccounts"][0]["email"]
    have_account = ((current.get("serviceAccounts") or [{}])[0]).get("email")
    if have_account != want_account:
        found.append(f"service account {have_account} → {want_account}")
    return found


def _gpus_text(gpus: list[tuple[str, int]]) -> str:
    return ", ".join(f"{count} {name}" for name, count in gpus) or "none"


def firewall_differences(desired: dict[str, Any], current: dict[str, Any]) -> list[str]:
    def ports(doc: dict[str, Any]) -> list[str]:
        return sorted(
            p for rule in doc.get("allowed", []) if rule.get("IPProtocol") == "tcp" for p in rule.get("ports", [])
        )

    found = []
    if ports(desired) != ports(current):
        found.append(f"ports {', '.join(ports(current)) or 'none'} → {', '.join(ports(desired))}")
    if sorted(current.get("targetTags", [])) != sorted(desired["targetTags"]):
        found.append("target tags")
    if sorted(current.get("sourceRanges", [])) != sorted(desired["sourceRanges"]):
        found.append("source ranges")
    return found
