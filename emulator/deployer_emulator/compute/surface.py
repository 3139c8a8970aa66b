"""The Compute routes, and the engine made of its parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.cloud import compute_v1

from deployer_emulator.compute.base import _check_query
from deployer_emulator.compute.firewalls import Firewalls
from deployer_emulator.compute.instances import Instances
from deployer_emulator.compute.listings import Listings
from deployer_emulator.core import Emulator, Request


class ComputeEngine(Instances, Firewalls, Listings):
    """Compute Engine v1 as one object: each base holds one job; routes call its handlers."""


def register(emulator: Emulator) -> None:
    compute = ComputeEngine(emulator)
    emulator.settings.setdefault("compute_operation_s", 0.2)
    emulator.settings.setdefault("compute_wait_timeout_s", 120.0)
    emulator.settings.setdefault("compute_exhausted_zones", [])
    emulator.settings.setdefault("compute_quota_overrides", {})
    emulator.settings.setdefault("compute_clock_advance_s", 0.0)
    router = emulator.router
    base = "/compute/v1/projects/{project}"
    instance = base + "/zones/{zone}/instances/{instance}"
    router.add("POST", base + "/zones/{zone}/instances", compute.insert_instance)
    router.add("GET", base + "/zones/{zone}/instances", compute.list_instances)
    router.add("GET", base + "/aggregated/instances", compute.aggregated_instances)
    router.add("GET", instance, compute.get_instance)
    router.add("DELETE", instance, compute.delete_instance)
    router.add("POST", instance + "/setMetadata", compute.set_metadata)
    router.add("POST", instance + "/setScheduling", compute.set_scheduling)
    router.add("POST", instance + "/reset", compute.reset)
    router.add("POST", instance + "/stop", compute.stop)
    router.add("POST", instance + "/start", compute.start)
    router.add("GET", instance + "/serialPort", compute.serial_port)

    for scope_template, kind, scope_of in (
        ("/zones/{zone}", "zone", lambda p: f"zones/{p['zone']}"),
        ("/regions/{region}", "region", lambda p: f"regions/{p['region']}"),
        ("/global", "global", lambda p: "global"),
    ):
        _register_operations(router, base + scope_template, compute, kind, scope_of)

    router.add("POST", base + "/global/firewalls", compute.insert_firewall)
    router.add("GET", base + "/global/firewalls", compute.list_firewalls)
    router.add("GET", base + "/global/firewalls/{firewall}", compute.get_firewall)
    router.add("PATCH", base + "/global/firewalls/{firewall}", compute.patch_firewall)
    router.add("DELETE", base + "/global/firewalls/{firewall}", compute.delete_firewall)

    router.add("GET", base + "/global/images/family/{family}", compute.image_from_family)
    router.add("GET", base + "/global/images/{image}", compute.get_image)
    router.add("GET", base + "/global/images", compute.list_images)

    router.add("GET", base + "/aggregated/acceleratorTypes", compute.aggregated_accelerator_types)
    router.add("GET", base + "/zones/{zone}/acceleratorTypes", compute.list_accelerator_types)
    router.add("GET", base + "/zones/{zone}/acceleratorTypes/{accelerator_type}", compute.get_accelerator_type)
    router.add("GET", base + "/aggregated/machineTypes", compute.aggregated_machine_types)
    router.add("GET", base + "/zones/{zone}/machineTypes", compute.list_machine_types)
    router.add("GET", base + "/zones/{zone}/machineTypes/{machine_type}", compute.get_machine_type)
    router.add("GET", base + "/regions", compute.list_regions)
    router.add("GET", base + "/regions/{region}", compute.get_region)
    router.add("GET", base + "/zones", compute.list_zones)
    router.add("GET", base + "/zones/{zone}", compute.get_zone)
    router.add("GET", base, compute.get_project)


def _register_operations(
    router: Any, scope_base: str, compute: ComputeEngine, kind: str, scope_of: Callable[[dict[str, str]], str]
) -> None:
    request_types = {
        "zone": (
            compute_v1.GetZoneOperationRequest,
            compute_v1.WaitZoneOperationRequest,
            compute_v1.ListZoneOperationsRequest,
            compute_v1.DeleteZoneOperationRequest,
            ("project", "zone"),
        ),
        "region": (
            compute_v1.GetRegionOperationRequest,
            compute_v1.WaitRegionOperationRequest,
            compute_v1.ListRegionOperationsRequest,
            compute_v1.DeleteRegionOperationRequest,
            ("project", "region"),
        ),
        "global": (
            compute_v1.GetGlobalOperationRequest,
            compute_v1.WaitGlobalOperationRequest,
            compute_v1.ListGlobalOperationsRequest,
            compute_v1.DeleteGlobalOperationRequest,
            ("project",),
        ),
    }
    get_type, wait_type, list_type, delete_type, path = request_types[kind]

    def get(req: Request, project: str, operation: str, **scope: str) -> dict[str, Any]:
        _check_query(req, get_type, path=(*path, "operation"))
        return compute.get_operation(req, project, scope_of(scope), operation, kind)

    def wait(req: Request, project: str, operation: str, **scope: str) -> dict[str, Any]:
        _check_query(req, wait_type, path=(*path, "operation"))
        return compute.wait_operation(req, project, scope_of(scope), operation, kind)

    def list_all(req: Request, project: str, **scope: str) -> dict[str, Any]:
        _check_query(req, list_type, path=path)
        return compute.list_operations(req, project, scope_of(scope), kind)

    def delete(req: Request, project: str, operation: str, **scope: str) -> dict[str, Any]:
        _check_query(req, delete_type, path=(*path, "operation"))
        return compute.delete_operation(req, project, scope_of(scope), operation, kind)

    router.add("GET", scope_base + "/operations/{operation}", get)
    router.add("POST", scope_base + "/operations/{operation}/wait", wait)
    router.add("GET", scope_base + "/operations", list_all)
    router.add("DELETE", scope_base + "/operations/{operation}", delete)
