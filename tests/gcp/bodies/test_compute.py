"""Pure tier: Compute Engine request bodies, as values, parsed strictly by the library's own types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.cloud import compute_v1

from deployer.gcp.bodies.compute import (
    CLOUD_PLATFORM_SCOPE,
    InstanceSpec,
    firewall_body,
    firewall_differences,
    firewall_name,
    instance_body,
    network_tag,
    set_metadata_body,
    shape_differences,
)

IMAGE = "https://www.googleapis.com/compute/v1/projects/cos-cloud/global/images/cos-stable-121-18867-90-38"
ZONE = "europe-west4-a"


def spec(**overrides: Any) -> InstanceSpec:
    values: dict[str, Any] = {
        "name": "trainer",
        "zone": ZONE,
        "machine_type": "g2-standard-8",
        "source_image": IMAGE,
        "disk_gb": 100,
        "disk_type": "pd-balanced",
        "user_data": "#cloud-config\n",
        "service_account": "deployer-runtime@my-proj.iam.gserviceaccount.com",
        "gpu_type": "nvidia-l4",
        "gpu_count": 1,
        "guest_accelerators": False,
        "spot": True,
        "termination_action": "STOP",
        "max_run_seconds": 8 * 3600,
    }
    values.update(overrides)
    return InstanceSpec(**values)


def strict_instance(body: dict[str, Any]) -> compute_v1.Instance:
    return compute_v1.Instance.from_json(json.dumps(body), ignore_unknown_fields=False)


def test_gpu_spot_instance_body() -> None:
    body = instance_body(spec())
    instance = strict_instance(body)
    assert instance.machine_type == f"zones/{ZONE}/machineTypes/g2-standard-8"
    assert instance.labels == {"managed-by": "deployer"}
    assert list(instance.tags.items) == ["deployer-trainer"]
    disk = instance.disks[0]
    assert (disk.boot, disk.auto_delete, disk.type_) == (True, True, "PERSISTENT")
    assert disk.initialize_params.source_image == IMAGE
    assert disk.initialize_params.disk_size_gb == 100
    assert disk.initialize_params.disk_type == f"zones/{ZONE}/diskTypes/pd-balanced"
    access = instance.network_interfaces[0].access_configs[0]
    assert (instance.network_interfaces[0].network, access.type_) == ("global/networks/default", "ONE_TO_ONE_NAT")
    scheduling = instance.scheduling
    assert scheduling.on_host_maintenance == "TERMINATE"
    assert scheduling.provisioning_model == "SPOT"
    assert scheduling.automatic_restart is False
    assert scheduling.instance_termination_action == "STOP"
    assert scheduling.max_run_duration.seconds == 28800
    assert body["scheduling"]["maxRunDuration"] == {"seconds": "28800"}  # int64 travels as a string
    assert {item.key: item.value for item in instance.metadata.items} == {
        "user-data": "#cloud-config\n",
        "google-logging-enabled": "true",
    }
    assert "gce-container-declaration" not in json.dumps(body)
    account = instance.service_accounts[0]
    assert (account.email, list(account.scopes)) == (
        "deployer-runtime@my-proj.iam.gserviceaccount.com",
        [CLOUD_PLATFORM_SCOPE],
    )
    # G2 carries its L4 in the machine type: guestAccelerators must not be set.
    assert "guestAccelerators" not in body


def test_n1_attaches_its_gpu_as_guest_accelerator() -> None:
    body = instance_body(
        spec(machine_type="n1-standard-8", gpu_type="nvidia-tesla-t4", gpu_count=2, guest_accelerators=True)
    )
    instance = strict_instance(body)
    accelerator = instance.guest_accelerators[0]
    assert accelerator.accelerator_type == f"zones/{ZONE}/acceleratorTypes/nvidia-tesla-t4"
    assert accelerator.accelerator_count == 2


def test_standard_gpu_vm_terminates_on_maintenance_and_restarts_automatically() -> None:
    scheduling = instance_body(spec(spot=False))["scheduling"]
    assert scheduling == {
        "onHostMaintenance": "TERMINATE",
        "automaticRestart": True,
        "provisioningModel": "STANDARD",
        "instanceTerminationAction": "STOP",
        "maxRunDuration": {"seconds": "28800"},
    }
    strict_instance(instance_body(spec(spot=False)))


def test_cpu_vm_migrates_and_has_no_termination_action_without_a_run_limit() -> None:
    body = instance_body(
        spec(machine_type="e2-standard-2", gpu_type=None, gpu_count=0, spot=False, max_run_seconds=None)
    )
    assert body["scheduling"] == {
        "onHostMaintenance": "MIGRATE",
        "automaticRestart": True,
        "provisioningModel": "STANDARD",
    }
    strict_instance(body)


def test_delete_termination_action_and_long_names() -> None:
    long_name = "a" * 63
    body = instance_body(spec(name=long_name, termination_action="DELETE"))
    assert body["scheduling"]["instanceTerminationAction"] == "DELETE"
    tag = body["tags"]["items"][0]
    assert len(tag) <= 63
    assert tag == network_tag(long_name)
    assert len(firewall_name(long_name)) <= 63
    assert firewall_name(long_name) != firewall_name("a" * 62)
    assert firewall_name("trainer") == "deployer-trainer-allow"


def test_firewall_body_is_strict_and_targets_the_vm_tag() -> None:
    body = firewall_body("trainer", (8080, 443))
    firewall = compute_v1.Firewall.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert firewall.name == "deployer-trainer-allow"
    assert firewall.direction == "INGRESS"
    assert list(firewall.source_ranges) == ["0.0.0.0/0"]
    assert list(firewall.target_tags) == ["deployer-trainer"]
    assert firewall.allowed[0].I_p_protocol == "tcp"
    assert list(firewall.allowed[0].ports) == ["443", "8080"]
    assert firewall_differences(body, body) == []
    assert firewall_differences(firewall_body("trainer", (8080,)), body) == ["ports 443, 8080 → 8080"]


def test_set_metadata_keeps_other_keys_and_sends_the_fingerprint() -> None:
    current = {
        "fingerprint": "abc=",
        "items": [{"key": "ssh-keys", "value": "me:ssh-ed25519 AAA"}, {"key": "user-data", "value": "old"}],
    }
    body = set_metadata_body(current, "new")
    metadata = compute_v1.Metadata.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert metadata.fingerprint == "abc="
    assert [(i.key, i.value) for i in metadata.items] == [
        ("ssh-keys", "me:ssh-ed25519 AAA"),
        ("user-data", "new"),
        ("google-logging-enabled", "true"),
    ]


def _as_google_returns(body: dict[str, Any]) -> dict[str, Any]:
    """The instance as instances.get returns it: full URLs, Google's defaults filled in, a GPU list on G2 too."""
    doc = json.loads(json.dumps(body))
    base = "https://www.googleapis.com/compute/v1/projects/my-proj/"
    doc["machineType"] = base + body["machineType"]
    doc["disks"] = [{"boot": True, "diskSizeGb": body["disks"][0]["initializeParams"]["diskSizeGb"]}]
    doc["guestAccelerators"] = body.get("guestAccelerators") or [
        {"acceleratorType": base + f"zones/{ZONE}/acceleratorTypes/nvidia-l4", "acceleratorCount": 1}
    ]
    doc["scheduling"] = {**body["scheduling"], "preemptible": False, "minNodeCpus": 0}
    doc["serviceAccounts"][0]["scopes"] = [CLOUD_PLATFORM_SCOPE]
    return doc


def test_same_shape_is_no_difference() -> None:
    body = instance_body(spec())
    assert shape_differences(body, _as_google_returns(body)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"machine_type": "g2-standard-12"}, "machine type g2-standard-8 → g2-standard-12"),
        ({"disk_gb": 200}, "boot disk 100 GB → 200 GB"),
        ({"spot": False}, "scheduling.provisioningModel SPOT → STANDARD"),
        ({"max_run_seconds": None, "spot": False}, "scheduling.maxRunDuration 28800s → none"),
        ({"service_account": "other@my-proj.iam.gserviceaccount.com"}, "service account"),
    ],
)
def test_shape_changes_are_found(change: dict[str, Any], expected: str) -> None:
    current = _as_google_returns(instance_body(spec()))
    found = shape_differences(instance_body(spec(**change)), current)
    assert any(line.startswith(expected) for line in found), found


def test_n1_gpu_count_change_is_a_shape_change() -> None:
    n1 = {"machine_type": "n1-standard-8", "gpu_type": "nvidia-tesla-t4", "guest_accelerators": True}
    current = _as_google_returns(instance_body(spec(**n1, gpu_count=1)))
    assert shape_differences(instance_body(spec(**n1, gpu_count=2)), current) == [
        "GPUs 1 nvidia-tesla-t4 → 2 nvidia-tesla-t4"
    ]
