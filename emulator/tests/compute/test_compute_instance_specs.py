"""An instance body's checks (compute/instance_specs.py): GPUs, host maintenance, machine, disk, image, run time."""

from __future__ import annotations

from typing import Any

import pytest
from compute_support import REGION, ZONE, _client, _insert, _instance, _project, _quota
from google.api_core import exceptions
from google.cloud import compute_v1


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
