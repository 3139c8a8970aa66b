"""Compute instances (compute/instances.py): insert, wait, get, list, setMetadata, through google-cloud-compute."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from compute_support import REGION, ZONE, _client, _insert, _instance, _project, _wait
from google.api_core import exceptions
from google.cloud import compute_v1
from google.protobuf import json_format


def test_cpu_instance_insert_wait_get(emulator: Any) -> None:
    project = _project()
    instances = _client(compute_v1.InstancesClient, emulator)
    raw = instances.insert_unary(project=project, zone=ZONE, instance_resource=_instance("web", "e2-standard-2"))
    assert raw.status == compute_v1.Operation.Status.RUNNING
    assert raw.operation_type == "insert"
    assert raw.id > 0
    assert raw.name.startswith("operation-")
    assert raw.target_link == f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{ZONE}/instances/web"
    assert raw.zone.endswith(f"/projects/{project}/zones/{ZONE}")

    done = _wait(emulator, project, ZONE, raw.name)
    assert not done.error.errors
    assert done.progress == 100
    assert done.end_time

    vm = instances.get(project=project, zone=ZONE, instance="web")
    assert vm.status == "RUNNING"
    assert vm.machine_type.endswith(f"/projects/{project}/zones/{ZONE}/machineTypes/e2-standard-2")
    assert vm.machine_type.startswith("https://www.googleapis.com/compute/v1/")
    assert vm.id > 0
    assert vm.self_link.endswith("/instances/web")
    assert {i.key: i.value for i in vm.metadata.items} == {"user-data": "#cloud-config\n{}\n"}
    assert vm.metadata.fingerprint
    assert vm.label_fingerprint
    assert vm.labels == {"deployer": "test"}
    nat_ip = vm.network_interfaces[0].access_configs[0].nat_i_p
    assert nat_ip.startswith(("203.0.113.", "198.51.100.", "192.0.2."))
    assert vm.network_interfaces[0].network_i_p.startswith("10.164.0.")  # europe-west4's default subnet
    assert vm.scheduling.on_host_maintenance == "TERMINATE"
    assert vm.scheduling.provisioning_model == "STANDARD"
    assert vm.disks[0].boot
    assert vm.disks[0].disk_size_gb == 50
    assert vm.cpu_platform != "Unknown CPU Platform"
    assert not vm.guest_accelerators

    listed = [i.name for i in instances.list(project=project, zone=ZONE)]
    assert listed == ["web"]
    zones_with_vms = [scope for scope, scoped in instances.aggregated_list(project=project) if scoped.instances]
    assert zones_with_vms == [f"zones/{ZONE}"]

    # The same name twice is a conflict, answered at once (not in the operation).
    with pytest.raises(exceptions.Conflict) as again:
        instances.insert(project=project, zone=ZONE, instance_resource=_instance("web", "e2-standard-2"))
    assert "already exists" in again.value.message


def test_responses_parse_strictly_as_the_library_types(emulator: Any) -> None:
    """Every document the surface answers is a valid compute_v1 message (the client itself ignores unknown fields)."""
    project = _project()
    _insert(emulator, project, _instance("strict", "g2-standard-8"))
    base = f"{emulator.url}/compute/v1/projects/{project}"
    checks = [
        (f"{base}/zones/{ZONE}/instances/strict", compute_v1.Instance),
        (f"{base}/zones/{ZONE}/instances", compute_v1.InstanceList),
        (f"{base}/aggregated/instances", compute_v1.InstanceAggregatedList),
        (f"{base}/zones/{ZONE}/instances/strict/serialPort", compute_v1.SerialPortOutput),
        (f"{base}/aggregated/acceleratorTypes", compute_v1.AcceleratorTypeAggregatedList),
        (f"{base}/zones/{ZONE}/machineTypes/g2-standard-8", compute_v1.MachineType),
        (f"{base}/regions/{REGION}", compute_v1.Region),
        (f"{base}/zones/{ZONE}", compute_v1.Zone),
        (f"{base}", compute_v1.Project),
        (f"{emulator.url}/compute/v1/projects/cos-cloud/global/images/family/cos-stable", compute_v1.Image),
        (f"{base}/zones/{ZONE}/operations", compute_v1.OperationList),
    ]
    for url, message_type in checks:
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, (url, response.text)
        json_format.Parse(response.text, message_type.pb()(), ignore_unknown_fields=False)


def test_set_metadata_checks_the_fingerprint(emulator: Any) -> None:
    project = _project()
    _insert(emulator, project, _instance("meta", "e2-small"))
    instances = _client(compute_v1.InstancesClient, emulator)
    vm = instances.get(project=project, zone=ZONE, instance="meta")
    stale = vm.metadata.fingerprint

    update = compute_v1.Metadata(
        fingerprint=stale, items=[compute_v1.Items(key="user-data", value="#cloud-config\nruncmd: []\n")]
    )
    operation = instances.set_metadata(project=project, zone=ZONE, instance="meta", metadata_resource=update)
    done = _wait(emulator, project, ZONE, operation.name)
    assert done.operation_type == "setMetadata"
    assert not done.error.errors
    changed = instances.get(project=project, zone=ZONE, instance="meta").metadata
    assert changed.fingerprint != stale
    assert changed.items[0].value == "#cloud-config\nruncmd: []\n"

    # The old fingerprint no longer matches: 412 conditionNotMet, nothing changes.
    with pytest.raises(exceptions.PreconditionFailed) as conflict:
        instances.set_metadata(project=project, zone=ZONE, instance="meta", metadata_resource=update)
    assert "Supplied fingerprint does not match current metadata fingerprint." in conflict.value.message
    body = conflict.value.response.json()["error"]
    assert body["code"] == 412
    assert body["errors"][0]["reason"] == "conditionNotMet"
    assert instances.get(project=project, zone=ZONE, instance="meta").metadata.fingerprint == changed.fingerprint
