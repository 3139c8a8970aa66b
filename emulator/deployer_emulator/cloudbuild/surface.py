"""The Cloud Build v1 routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deployer_emulator.cloudbuild.builds import Builds
from deployer_emulator.cloudbuild.config import _default_service_account
from deployer_emulator.core import Emulator, Request, Response


class CloudBuild(Builds):
    """Cloud Build v1 as one object: each base holds one job; routes call its handlers."""


def register(emulator: Emulator) -> None:
    surface = CloudBuild(emulator)
    surface.recover()
    router = emulator.router

    # Each build call is served globally (location "global") and per region, the global route first.
    calls: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
        ("POST", "/builds", surface.create),
        ("GET", "/builds", surface.list_builds),
        ("GET", "/builds/{build}", surface.get),
        ("POST", "/builds/{build}:cancel", surface.cancel),
    ]
    for method, suffix, call in calls:
        router.add(method, "/v1/projects/{project}" + suffix, _in_location(call, "global"))
        router.add(method, "/v1/projects/{project}/locations/{location}" + suffix, _in_location(call, None))

    @router.route("GET", "/v1/operations/{name=**}")
    def get_global_operation(req: Request, name: str) -> dict[str, Any]:
        return emulator.get_operation(f"operations/{name}")

    @router.route("POST", "/v1/operations/{name=**}:cancel")
    def cancel_global_operation(req: Request, name: str) -> dict[str, Any]:
        return surface.cancel_operation(req, f"operations/{name}")

    @router.route("GET", "/v1/projects/{project}/locations/{location}/operations/{operation}")
    def get_operation(req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        return emulator.get_operation(f"projects/{project}/locations/{location}/operations/{operation}")

    @router.route("POST", "/v1/projects/{project}/locations/{location}/operations/{operation}:cancel")
    def cancel_operation(req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        return surface.cancel_operation(req, f"projects/{project}/locations/{location}/operations/{operation}")

    @router.route("GET", "/v1/projects/{project}/locations/{location}/defaultServiceAccount")
    def default_service_account(req: Request, project: str, location: str) -> dict[str, Any]:
        return {
            "name": f"projects/{project}/locations/{location}/defaultServiceAccount",
            "serviceAccountEmail": _default_service_account(emulator, project),
        }

    @router.route("GET", "/_emulator/builds/{build}/log")
    def build_log(req: Request, build: str) -> Response:
        surface._get(build)
        path = emulator.blob_dir / "cloudbuild" / "logs" / f"{build}.txt"
        data = path.read_bytes() if path.exists() else b""
        return Response(200, data, {"Content-Type": "text/plain; charset=utf-8"})


def _in_location(call: Callable[..., dict[str, Any]], fixed: str | None) -> Callable[..., dict[str, Any]]:
    """A route handler for ``call(req, project, location, *rest)``: the location from the path, or ``fixed``."""

    def handler(req: Request, project: str, location: str = "", **rest: str) -> dict[str, Any]:
        return call(req, project, fixed or location, *rest.values())

    return handler
