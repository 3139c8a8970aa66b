"""Firewalls (compute/firewalls.py): insert, get, patch, delete."""

from __future__ import annotations

from typing import Any

import pytest
from compute_support import _client, _project
from google.api_core import exceptions
from google.cloud import compute_v1


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
