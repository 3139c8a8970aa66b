"""What the Compute tests share: clients on the emulator, an instance body, insert and wait."""

from __future__ import annotations

import uuid
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

ZONE = "europe-west4-a"


REGION = "europe-west4"


COS = "projects/cos-cloud/global/images/family/cos-stable"


def _client(cls: Any, emulator: Any) -> Any:
    return cls(credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url})


def _project() -> str:
    return f"vm-{uuid.uuid4().hex[:10]}"


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
