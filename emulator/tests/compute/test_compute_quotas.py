"""Quota and capacity (compute/quotas.py): failures are the operation's, stopping releases GPU quota."""

from __future__ import annotations

from typing import Any

import pytest
from compute_support import REGION, ZONE, _client, _insert, _instance, _project, _quota, _wait
from google.api_core import exceptions
from google.cloud import compute_v1


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
