"""The read-only resources (compute/listings.py): accelerator and machine types, regions, zones, quotas, COS images."""

from __future__ import annotations

from typing import Any

import pytest
from compute_support import REGION, ZONE, _client, _project, _quota
from google.api_core import exceptions
from google.cloud import compute_v1


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
