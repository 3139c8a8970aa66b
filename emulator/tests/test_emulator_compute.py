"""The Compute Engine v1 surface, through the real google-cloud-compute clients (REST transport)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from google.protobuf import json_format

from deployer_emulator.compute.console import render_boot_console

ZONE = "europe-west4-a"
REGION = "europe-west4"
COS = "projects/cos-cloud/global/images/family/cos-stable"

CLOUD_CONFIG = """#cloud-config
write_files:
- path: /etc/systemd/system/install-gpu.service
  content: |
    [Unit]
    Description=Install the GPU driver
    Wants=gcr-online.target docker.socket
    After=gcr-online.target docker.socket
    [Service]
    Type=oneshot
    ExecStart=/usr/bin/cos-extensions install gpu
- path: /etc/systemd/system/app.service
  content: |
    [Unit]
    Description=The app
    Requires=install-gpu.service
    After=install-gpu.service
    [Service]
    Environment=HOME=/home/cloudservice
    ExecStartPre=/usr/bin/docker-credential-gcr configure-docker --registries europe-west4-docker.pkg.dev
    ExecStart=/usr/bin/docker run --rm --name app europe-west4-docker.pkg.dev/p/r/app:1
runcmd:
- systemctl daemon-reload
- systemctl start app.service
"""


def _client(cls: Any, emulator: Any) -> Any:
    return cls(credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url})


def _project() -> str:
    return f"vm-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(emulator: Any) -> Iterator[Any]:
    """Change Compute settings for one test; the session's emulator gets its defaults back afterwards."""
    yield emulator.settings
    emulator.settings(
        compute_exhausted_zones=[],
        compute_quota_overrides={},
        compute_clock_advance_s=0.0,
        compute_operation_s=0.2,
        compute_wait_timeout_s=120.0,
    )


def _instance(
    name: str,
    machine_type: str,
    *,
    zone: str = ZONE,
    gpus: list[tuple[str, int]] | None = None,
    on_host_maintenance: str | None = "TERMINATE",
    spot: bool = False,
    user_data: str = "#cloud-config\n{}\n",
    disk_type: str = "pd-balanced",
) -> compute_v1.Instance:
    scheduling = compute_v1.Scheduling()
    if on_host_maintenance:
        scheduling.on_host_maintenance = on_host_maintenance
    if spot:
        scheduling.provisioning_model = "SPOT"
        scheduling.instance_termination_action = "STOP"
    return compute_v1.Instance(
        name=name,
        machine_type=f"zones/{zone}/machineTypes/{machine_type}",
        disks=[
            compute_v1.AttachedDisk(
                boot=True,
                auto_delete=True,
                initialize_params=compute_v1.AttachedDiskInitializeParams(
                    source_image=COS, disk_size_gb=50, disk_type=f"zones/{zone}/diskTypes/{disk_type}"
                ),
            )
        ],
        network_interfaces=[
            compute_v1.NetworkInterface(
                network="global/networks/default",
                access_configs=[compute_v1.AccessConfig(type_="ONE_TO_ONE_NAT", name="External NAT")],
            )
        ],
        metadata=compute_v1.Metadata(items=[compute_v1.Items(key="user-data", value=user_data)]),
        guest_accelerators=[
            compute_v1.AcceleratorConfig(accelerator_type=f"zones/{zone}/acceleratorTypes/{t}", accelerator_count=n)
            for t, n in gpus or []
        ],
        scheduling=scheduling,
        labels={"deployer": "test"},
    )


def _insert(emulator: Any, project: str, instance: compute_v1.Instance, zone: str = ZONE) -> compute_v1.Operation:
    """Insert and wait the way the tool does: ZoneOperationsClient.wait with the same client options."""
    operation = _client(compute_v1.InstancesClient, emulator).insert(
        project=project, zone=zone, instance_resource=instance
    )
    return _wait(emulator, project, zone, operation.name)


def _wait(emulator: Any, project: str, zone: str, name: str) -> compute_v1.Operation:
    done = _client(compute_v1.ZoneOperationsClient, emulator).wait(project=project, zone=zone, operation=name)
    assert done.status == compute_v1.Operation.Status.DONE
    return done


def _quota(region: compute_v1.Region, metric: str) -> tuple[float, float]:
    found = [q for q in region.quotas if q.metric == metric]
    assert found, f"{metric} is not among the region's quotas"
    return found[0].limit, found[0].usage


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


def test_gpu_machine_type_needs_terminate_on_host_maintenance(emulator: Any) -> None:
    project = _project()
    instances = _client(compute_v1.InstancesClient, emulator)
    with pytest.raises(exceptions.BadRequest) as migrate:
        instances.insert(
            project=project, zone=ZONE, instance_resource=_instance("g2", "g2-standard-8", on_host_maintenance=None)
        )
    assert "Instances with guest accelerators do not support live migration." in migrate.value.message
    with pytest.raises(exceptions.NotFound):
        instances.get(project=project, zone=ZONE, instance="g2")

    # With TERMINATE it is created, and GET shows the machine type's built-in L4 as its accelerator.
    assert not _insert(emulator, project, _instance("g2", "g2-standard-8")).error.errors
    vm = instances.get(project=project, zone=ZONE, instance="g2")
    assert [(a.accelerator_type.rsplit("/", 1)[-1], a.accelerator_count) for a in vm.guest_accelerators] == [
        ("nvidia-l4", 1)
    ]


def test_spot_gpu_vm_defaults_to_terminate(emulator: Any) -> None:
    project = _project()
    spot = _instance("spot", "g2-standard-4", on_host_maintenance=None, spot=True)
    assert not _insert(emulator, project, spot).error.errors
    scheduling = (
        _client(compute_v1.InstancesClient, emulator).get(project=project, zone=ZONE, instance="spot").scheduling
    )
    assert scheduling.provisioning_model == "SPOT"
    assert scheduling.on_host_maintenance == "TERMINATE"
    assert scheduling.automatic_restart is False


@pytest.mark.parametrize(
    ("machine_type", "gpus", "expected"),
    [
        ("n1-standard-8", [("nvidia-l4", 1)], "[nvidia-l4, n1-standard-8] features are not compatible"),
        ("g2-standard-8", [("nvidia-tesla-t4", 1)], "[nvidia-tesla-t4, g2-standard-8] features are not compatible"),
        ("e2-standard-4", [("nvidia-tesla-t4", 1)], "[nvidia-tesla-t4, e2-standard-4] features are not compatible"),
        ("n1-standard-8", [("nvidia-tesla-t4", 3)], "Accelerator count for nvidia-tesla-t4 must be one of [1, 2, 4]"),
    ],
)
def test_accelerators_that_do_not_fit_the_machine_type(
    emulator: Any, machine_type: str, gpus: list[tuple[str, int]], expected: str
) -> None:
    with pytest.raises(exceptions.BadRequest) as refused:
        _client(compute_v1.InstancesClient, emulator).insert(
            project=_project(), zone=ZONE, instance_resource=_instance("bad", machine_type, gpus=gpus)
        )
    assert expected in refused.value.message


def test_n1_with_t4_and_the_zone_must_offer_the_accelerator(emulator: Any) -> None:
    project = _project()
    assert not _insert(emulator, project, _instance("t4", "n1-standard-8", gpus=[("nvidia-tesla-t4", 2)])).error.errors
    vm = _client(compute_v1.InstancesClient, emulator).get(project=project, zone=ZONE, instance="t4")
    assert vm.guest_accelerators[0].accelerator_count == 2
    assert vm.guest_accelerators[0].accelerator_type.endswith(f"/zones/{ZONE}/acceleratorTypes/nvidia-tesla-t4")

    # europe-west4-a offers no P4 in the emulator catalogue.
    with pytest.raises(exceptions.NotFound) as missing:
        _client(compute_v1.InstancesClient, emulator).insert(
            project=project,
            zone=ZONE,
            instance_resource=_instance("p4", "n1-standard-8", gpus=[("nvidia-tesla-p4", 1)]),
        )
    assert f"projects/{project}/zones/{ZONE}/acceleratorTypes/nvidia-tesla-p4' was not found" in missing.value.message


def test_machine_type_disk_type_and_image_are_checked(emulator: Any) -> None:
    project = _project()
    instances = _client(compute_v1.InstancesClient, emulator)
    with pytest.raises(exceptions.BadRequest) as unknown_type:
        instances.insert(project=project, zone=ZONE, instance_resource=_instance("x", "n1-standard-99"))
    assert (
        f"Invalid value for field 'resource.machineType': 'zones/{ZONE}/machineTypes/n1-standard-99'. "
        f"Machine type with name 'n1-standard-99' does not exist in zone '{ZONE}'." in unknown_type.value.message
    )
    # G2 cannot boot from pd-standard, the API's default disk type.
    with pytest.raises(exceptions.BadRequest) as disk:
        instances.insert(
            project=project, zone=ZONE, instance_resource=_instance("x", "g2-standard-4", disk_type="pd-standard")
        )
    assert "[pd-standard] features and [instance_type: VIRTUAL_MACHINE" in disk.value.message
    assert "GRAPHICS_OPTIMIZED" in disk.value.message

    no_image = _instance("x", "e2-small")
    no_image.disks[0].initialize_params.source_image = "projects/cos-cloud/global/images/family/cos-nope"
    with pytest.raises(exceptions.BadRequest) as image:
        instances.insert(project=project, zone=ZONE, instance_resource=no_image)
    assert "The referenced image resource cannot be found." in image.value.message

    with pytest.raises(exceptions.BadRequest) as name:
        instances.insert(project=project, zone=ZONE, instance_resource=_instance("Bad_Name", "e2-small"))
    assert "Invalid value for field 'resource.name': 'Bad_Name'" in name.value.message
    assert name.value.response.json()["error"]["errors"][0]["reason"] == "invalid"


def test_max_run_duration_needs_a_termination_action_and_stops_the_vm(emulator: Any, settings: Any) -> None:
    project = _project()
    instances = _client(compute_v1.InstancesClient, emulator)
    capped = _instance("capped", "g2-standard-4")
    capped.scheduling.max_run_duration = compute_v1.Duration(seconds=8 * 3600)
    with pytest.raises(exceptions.BadRequest) as no_action:
        instances.insert(project=project, zone=ZONE, instance_resource=capped)
    assert "instanceTerminationAction" in no_action.value.message

    capped.scheduling.instance_termination_action = "STOP"
    assert not _insert(emulator, project, capped).error.errors
    assert instances.get(project=project, zone=ZONE, instance="capped").status == "RUNNING"
    settings(compute_clock_advance_s=8 * 3600 + 1)
    vm = instances.get(project=project, zone=ZONE, instance="capped")
    assert vm.status == "TERMINATED"
    assert not vm.network_interfaces[0].access_configs[0].nat_i_p  # the ephemeral address went with the run
    assert (
        _quota(_client(compute_v1.RegionsClient, emulator).get(project=project, region=REGION), "NVIDIA_L4_GPUS")[1]
        == 0
    )
    console = instances.get_serial_port_output(project=project, zone=ZONE, instance="capped").contents
    assert "maxRunDuration reached: instanceTerminationAction STOP" in console


def test_quota_zero_fails_the_operation_not_the_call(emulator: Any, settings: Any) -> None:
    project = _project()
    settings(compute_quota_overrides={REGION: {"NVIDIA_L4_GPUS": 0}})
    operation = _client(compute_v1.InstancesClient, emulator).insert(
        project=project, zone=ZONE, instance_resource=_instance("l4", "g2-standard-8")
    )
    done = _wait(emulator, project, ZONE, operation.name)
    assert [e.code for e in done.error.errors] == ["QUOTA_EXCEEDED"]
    assert done.error.errors[0].message == f"Quota 'NVIDIA_L4_GPUS' exceeded.  Limit: 0.0 in region {REGION}."
    quota_info = done.error.errors[0].error_details[0].quota_info
    assert quota_info.metric_name == "compute.googleapis.com/nvidia_l4_gpus"
    assert quota_info.dimensions == {"region": REGION}
    assert done.http_error_status_code == 403
    assert done.http_error_message == "FORBIDDEN"
    with pytest.raises(exceptions.NotFound):
        _client(compute_v1.InstancesClient, emulator).get(project=project, zone=ZONE, instance="l4")

    # The global limit is checked too.
    settings(compute_quota_overrides={"global": {"GPUS_ALL_REGIONS": 0}})
    done = _insert(emulator, project, _instance("l4", "g2-standard-8"))
    assert done.error.errors[0].message == "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally."


def test_exhausted_zone_fails_the_insert_and_another_zone_works(emulator: Any, settings: Any) -> None:
    project = _project()
    settings(compute_exhausted_zones=[f"{ZONE}/nvidia-l4"])
    done = _insert(emulator, project, _instance("trainer", "g2-standard-8"))
    assert [e.code for e in done.error.errors] == ["ZONE_RESOURCE_POOL_EXHAUSTED"]
    assert done.error.errors[0].message == (
        f"The zone 'projects/{project}/zones/{ZONE}' does not have enough resources available to fulfill the "
        "request.  Try a different zone, or try again later."
    )
    # A CPU VM still fits in that zone; the GPU VM fits in the next zone of the region.
    assert not _insert(emulator, project, _instance("cpu", "e2-small")).error.errors
    other = "europe-west4-b"
    assert not _insert(emulator, project, _instance("trainer", "g2-standard-8", zone=other), other).error.errors
    vm = _client(compute_v1.InstancesClient, emulator).get(project=project, zone=other, instance="trainer")
    assert vm.status == "RUNNING"


def test_stop_releases_gpu_quota_and_start_needs_it_again(emulator: Any, settings: Any) -> None:
    project = _project()
    settings(compute_quota_overrides={REGION: {"NVIDIA_L4_GPUS": 1}})
    instances = _client(compute_v1.InstancesClient, emulator)
    regions = _client(compute_v1.RegionsClient, emulator)
    assert not _insert(emulator, project, _instance("first", "g2-standard-8")).error.errors
    assert _quota(regions.get(project=project, region=REGION), "NVIDIA_L4_GPUS") == (1.0, 1.0)
    assert _quota(regions.get(project=project, region=REGION), "CPUS")[1] == 8.0
    gpus_all = [
        q
        for q in _client(compute_v1.ProjectsClient, emulator).get(project=project).quotas
        if q.metric == "GPUS_ALL_REGIONS"
    ]
    assert gpus_all[0].usage == 1.0

    assert _insert(emulator, project, _instance("second", "g2-standard-8")).error.errors[0].code == "QUOTA_EXCEEDED"

    stopped = _wait(emulator, project, ZONE, instances.stop(project=project, zone=ZONE, instance="first").name)
    assert stopped.operation_type == "stop"
    first = instances.get(project=project, zone=ZONE, instance="first")
    assert first.status == "TERMINATED"
    assert first.last_stop_timestamp
    assert _quota(regions.get(project=project, region=REGION), "NVIDIA_L4_GPUS") == (1.0, 0.0)

    assert not _insert(emulator, project, _instance("second", "g2-standard-8")).error.errors
    restart = _wait(emulator, project, ZONE, instances.start(project=project, zone=ZONE, instance="first").name)
    assert restart.error.errors[0].code == "QUOTA_EXCEEDED"
    assert instances.get(project=project, zone=ZONE, instance="first").status == "TERMINATED"

    _wait(emulator, project, ZONE, instances.delete(project=project, zone=ZONE, instance="second").name)
    assert not _wait(
        emulator, project, ZONE, instances.start(project=project, zone=ZONE, instance="first").name
    ).error.errors
    first = instances.get(project=project, zone=ZONE, instance="first")
    assert first.status == "RUNNING"
    assert first.network_interfaces[0].access_configs[0].nat_i_p
    with pytest.raises(exceptions.NotFound):
        instances.get(project=project, zone=ZONE, instance="second")


def _by_name(project: str, expression: str) -> compute_v1.AggregatedListAcceleratorTypesRequest:
    # The library sends `filter` verbatim as a query parameter.
    return compute_v1.AggregatedListAcceleratorTypesRequest(project=project, filter=expression)


def test_accelerator_types_aggregated_list_filtered_by_name(emulator: Any) -> None:
    client = _client(compute_v1.AcceleratorTypesClient, emulator)
    project = _project()
    for expression in ("name=nvidia-l4", 'name = "nvidia-l4"', "name eq nvidia-l4", "(name eq nvidia-l.*)"):
        zones = {
            scope.removeprefix("zones/")
            for scope, scoped in client.aggregated_list(request=_by_name(project, expression))
            if scoped.accelerator_types
        }
        assert {"europe-west4-a", "europe-west4-b", "europe-west4-c", "us-central1-a"} <= zones, expression
        assert "europe-west4-a" in zones
        assert "us-east4-b" not in zones
        assert "europe-west3-a" not in zones
    pairs = [
        (scope, t.name, t.maximum_cards_per_instance, t.zone)
        for scope, scoped in client.aggregated_list(request=_by_name(project, "name=nvidia-tesla-t4"))
        for t in scoped.accelerator_types
    ]
    assert all(name == "nvidia-tesla-t4" and cards == 4 for _, name, cards, _ in pairs)
    assert all(zone.endswith(f"/{scope}") for scope, _, _, zone in pairs)
    in_zone = [t.name for t in client.list(project=project, zone="europe-west4-b")]
    assert "nvidia-l4" in in_zone
    assert "nvidia-tesla-a100" in in_zone
    assert client.get(project=project, zone=ZONE, accelerator_type="nvidia-l4").description == "NVIDIA L4"
    with pytest.raises(exceptions.NotFound):
        client.get(project=project, zone="europe-west3-a", accelerator_type="nvidia-l4")
    with pytest.raises(exceptions.BadRequest):
        list(client.aggregated_list(request=_by_name(project, "(name = nvidia-l4")))


def test_machine_types_carry_their_gpus(emulator: Any) -> None:
    client = _client(compute_v1.MachineTypesClient, emulator)
    project = _project()
    g2 = client.get(project=project, zone=ZONE, machine_type="g2-standard-24")
    assert (g2.guest_cpus, g2.memory_mb) == (24, 96 * 1024)
    assert [(a.guest_accelerator_type, a.guest_accelerator_count) for a in g2.accelerators] == [("nvidia-l4", 2)]
    n1 = client.get(project=project, zone=ZONE, machine_type="n1-standard-4")
    assert (n1.guest_cpus, n1.memory_mb, list(n1.accelerators)) == (4, 15360, [])
    names = [m.name for m in client.list(project=project, zone="europe-west3-a")]
    assert "n1-standard-8" in names
    assert not [n for n in names if n.startswith(("g2-", "a2-", "a3-"))]
    with pytest.raises(exceptions.NotFound):
        client.get(project=project, zone="europe-west3-a", machine_type="g2-standard-8")


def test_regions_zones_and_project_quotas(emulator: Any, settings: Any) -> None:
    project = _project()
    regions = _client(compute_v1.RegionsClient, emulator)
    region = regions.get(project=project, region=REGION)
    assert [z.rsplit("/", 1)[-1] for z in region.zones] == ["europe-west4-a", "europe-west4-b", "europe-west4-c"]
    assert _quota(region, "NVIDIA_L4_GPUS") == (8.0, 0.0)
    for metric in (
        "NVIDIA_T4_GPUS",
        "NVIDIA_A100_GPUS",
        "NVIDIA_A100_80GB_GPUS",
        "NVIDIA_H100_GPUS",
        "PREEMPTIBLE_NVIDIA_L4_GPUS",
        "CPUS",
    ):
        _quota(region, metric)
    settings(compute_quota_overrides={REGION: {"NVIDIA_L4_GPUS": 0}, "global": {"GPUS_ALL_REGIONS": 4}})
    assert _quota(regions.get(project=project, region=REGION), "NVIDIA_L4_GPUS")[0] == 0.0
    quotas = {q.metric: q.limit for q in _client(compute_v1.ProjectsClient, emulator).get(project=project).quotas}
    assert quotas["GPUS_ALL_REGIONS"] == 4.0
    assert "CPUS_ALL_REGIONS" in quotas
    assert "FIREWALLS" in quotas
    assert "europe-west4" in [r.name for r in regions.list(project=project)]
    zone = _client(compute_v1.ZonesClient, emulator).get(project=project, zone=ZONE)
    assert zone.region.endswith(f"/regions/{REGION}")
    assert zone.status == "UP"
    with pytest.raises(exceptions.NotFound):
        regions.get(project=project, region="mars-north1")


def test_cos_image_from_family(emulator: Any) -> None:
    images = _client(compute_v1.ImagesClient, emulator)
    image = images.get_from_family(project="cos-cloud", family="cos-stable")
    assert image.name.startswith("cos-stable-")
    assert image.family == "cos-stable"
    assert image.self_link == f"https://www.googleapis.com/compute/v1/projects/cos-cloud/global/images/{image.name}"
    assert image.status == "READY"
    assert image.disk_size_gb == 10
    assert images.get(project="cos-cloud", image=image.name).name == image.name
    with pytest.raises(exceptions.NotFound) as missing:
        images.get_from_family(project="cos-cloud", family="cos-nope")
    assert "projects/cos-cloud/global/images/family/cos-nope" in missing.value.message


def test_firewall_insert_get_patch_delete(emulator: Any) -> None:
    project = _project()
    firewalls = _client(compute_v1.FirewallsClient, emulator)
    globals_ = _client(compute_v1.GlobalOperationsClient, emulator)
    rule = compute_v1.Firewall(
        name="deployer-trainer",
        network="global/networks/default",
        allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["8080"])],
        target_tags=["deployer-trainer"],
    )
    operation = firewalls.insert(project=project, firewall_resource=rule)
    done = globals_.wait(project=project, operation=operation.name)
    assert done.status == compute_v1.Operation.Status.DONE
    assert not done.error.errors
    assert done.self_link.endswith(f"/projects/{project}/global/operations/{operation.name}")
    got = firewalls.get(project=project, firewall="deployer-trainer")
    assert list(got.source_ranges) == ["0.0.0.0/0"]
    assert got.direction == "INGRESS"
    assert got.priority == 1000
    assert got.network.endswith(f"/projects/{project}/global/networks/default")
    assert [f.name for f in firewalls.list(project=project)] == ["deployer-trainer"]

    patch = compute_v1.Firewall(allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["8080", "9090"])])
    globals_.wait(
        project=project,
        operation=firewalls.patch(project=project, firewall="deployer-trainer", firewall_resource=patch).name,
    )
    assert list(firewalls.get(project=project, firewall="deployer-trainer").allowed[0].ports) == ["8080", "9090"]

    with pytest.raises(exceptions.Conflict):
        firewalls.insert(project=project, firewall_resource=rule)
    with pytest.raises(exceptions.BadRequest) as bad_port:
        firewalls.insert(
            project=project,
            firewall_resource=compute_v1.Firewall(
                name="bad", allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["70000"])]
            ),
        )
    assert "'resource.allowed[0].ports[0]': '70000'" in bad_port.value.message

    globals_.wait(project=project, operation=firewalls.delete(project=project, firewall="deployer-trainer").name)
    with pytest.raises(exceptions.NotFound):
        firewalls.get(project=project, firewall="deployer-trainer")


def _serial(instances: Any, project: str, name: str, start: int) -> compute_v1.SerialPortOutput:
    request = compute_v1.GetSerialPortOutputInstanceRequest(project=project, zone=ZONE, instance=name, start=start)
    return instances.get_serial_port_output(request=request)


def test_serial_port_output_renders_the_boot_of_the_user_data(emulator: Any) -> None:
    project = _project()
    _insert(emulator, project, _instance("gpu", "g2-standard-8", user_data=CLOUD_CONFIG))
    instances = _client(compute_v1.InstancesClient, emulator)
    output = instances.get_serial_port_output(project=project, zone=ZONE, instance="gpu")
    assert output.start == 0
    assert output.next_ == len(output.contents.encode())
    text = output.contents
    assert "no container runs on an emulated VM" in text
    assert "write_files: wrote /etc/systemd/system/app.service" in text
    driver = text.index("GPU drivers installed (emulated)")
    assert text.index("Finished install-gpu.service") > driver
    assert text.index("Starting app.service") > text.index("Finished install-gpu.service")
    assert "ExecStart=/usr/bin/docker run --rm --name app europe-west4-docker.pkg.dev/p/r/app:1" in text

    # Reading on from `next` gives nothing new; a reset boots again and appends a second boot.
    later = _serial(instances, project, "gpu", output.next_)
    assert later.contents == ""
    assert later.start == output.next_
    assert later.next_ == output.next_
    _wait(emulator, project, ZONE, instances.reset(project=project, zone=ZONE, instance="gpu").name)
    after_reset = _serial(instances, project, "gpu", output.next_)
    assert after_reset.start == output.next_
    assert "boot 2 of instance gpu" in after_reset.contents
    tail = _serial(instances, project, "gpu", -40)
    assert tail.start == after_reset.next_ - 40
    assert len(tail.contents.encode()) == 40


def test_boot_console_orders_units_after_their_dependencies() -> None:
    instance = {
        "name": "vm",
        "metadata": {"items": [{"key": "user-data", "value": CLOUD_CONFIG}]},
        "guestAccelerators": [{"acceleratorType": "zones/z/acceleratorTypes/nvidia-l4", "acceleratorCount": 1}],
    }
    text = render_boot_console(instance, "cos-stable-117-18613-164-4", 1)
    # app.service alone is started by runcmd; its Requires= pulls in the driver unit, which starts first.
    assert text.index("Starting install-gpu.service") < text.index("Starting app.service")
    assert "NVIDIA device (NVIDIA L4)" in text
    broken = dict(instance, metadata={"items": [{"key": "user-data", "value": "#cloud-config\nwrite_files: [\n"}]})
    assert "failed to load the user-data as YAML" in render_boot_console(broken, "img", 1)


def test_strict_parsing_and_unknown_query_parameters(emulator: Any) -> None:
    project = _project()
    url = f"{emulator.url}/compute/v1/projects/{project}/zones/{ZONE}/instances"
    body = json.loads(compute_v1.Instance.to_json(_instance("raw", "e2-small")))
    body["machineTipe"] = "typo"
    unknown = requests.post(url, json=body, timeout=10)
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "machineTipe" in error["message"]

    body.pop("machineTipe")
    body["scheduling"]["onHostMaintenance"] = "SOMETIMES"
    bad_enum = requests.post(url, json=body, timeout=10)
    assert bad_enum.status_code == 400
    assert "SOMETIMES" in bad_enum.json()["error"]["message"]

    body["scheduling"]["onHostMaintenance"] = "TERMINATE"
    query = requests.post(url, params={"zoneName": ZONE}, json=body, timeout=10)
    assert query.status_code == 400
    assert 'Unknown name "zoneName"' in query.json()["error"]["message"]

    # The raw operation is Compute's own message, not google.longrunning's.
    created = requests.post(url, params={"requestId": str(uuid.uuid4())}, json=body, timeout=10).json()
    assert created["kind"] == "compute#operation"
    assert created["status"] == "RUNNING"
    assert created["id"].isdigit()
    assert "done" not in created
    assert requests.get(f"{url}/nope", timeout=10).json()["error"]["errors"][0]["reason"] == "notFound"


def test_a_retried_request_id_gets_the_same_operation(emulator: Any) -> None:
    project = _project()
    instances = _client(compute_v1.InstancesClient, emulator)
    request_id = str(uuid.uuid4())
    request = compute_v1.InsertInstanceRequest(
        project=project, zone=ZONE, instance_resource=_instance("once", "e2-small"), request_id=request_id
    )
    first = instances.insert_unary(request=request)
    again = instances.insert_unary(request=request)
    assert again.name == first.name
    assert again.client_operation_id == request_id


def test_wait_on_an_unknown_operation_is_not_found(emulator: Any) -> None:
    with pytest.raises(exceptions.NotFound):
        _client(compute_v1.ZoneOperationsClient, emulator).wait(
            project=_project(), zone=ZONE, operation="operation-1-2"
        )
    emulator.mark()
    with pytest.raises(exceptions.NotFound):
        _client(compute_v1.RegionOperationsClient, emulator).get(
            project=_project(), region=REGION, operation="operation-1"
        )
    assert [r["mutating"] for r in emulator.requests()] == [False]


def test_wait_returns_a_running_operation_at_its_deadline(emulator: Any, settings: Any) -> None:
    """Google's wait answers after about two minutes whether or not the operation is done (here: a 0 s deadline)."""
    project = _project()
    settings(compute_operation_s=3600, compute_wait_timeout_s=0)
    operation = _client(compute_v1.InstancesClient, emulator).insert(
        project=project, zone=ZONE, instance_resource=_instance("slow", "e2-small")
    )
    waited = _client(compute_v1.ZoneOperationsClient, emulator).wait(
        project=project, zone=ZONE, operation=operation.name
    )
    assert waited.status == compute_v1.Operation.Status.RUNNING
    assert _client(compute_v1.InstancesClient, emulator).get(project=project, zone=ZONE, instance="slow").status in (
        "PROVISIONING",
        "STAGING",
    )
