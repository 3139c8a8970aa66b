"""The Cloud Build v1 routes."""

from __future__ import annotations

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

    @router.route("POST", "/v1/projects/{project}/builds")
    def create_global(req: Request, project: str) -> dict[str, Any]:
        return surface.create(req, project, "global")

    @router.route("POST", "/v1/projects/{project}/locations/{location}/builds")
    def create_regional(req: Request, project: str, location: str) -> dict[str, Any]:
        return surface.create(req, project, location)

    @router.route("GET", "/v1/projects/{project}/builds")
    def list_global(req: Request, project: str) -> dict[str, Any]:
        return surface.list_builds(req, project, "global")

    @router.route("GET", "/v1/projects/{project}/locations/{location}/builds")
    def list_regional(req: Request, project: str, location: str) -> dict[str, Any]:
        return surface.list_builds(req, project, location)

    @router.route("GET", "/v1/projects/{project}/builds/{build}")
    def get_global(req: Request, project: str, build: str) -> dict[str, Any]:
        return surface.get(req, project, "global", build)

    @router.route("GET", "/v1/projects/{project}/locations/{location}/builds/{build}")
    def get_regional(req: Request, project: str, location: str, build: str) -> dict[str, Any]:
        return surface.get(req, project, location, build)

    @router.route("POST", "/v1/projects/{project}/builds/{build}:cancel")
    def cancel_global(req: Request, project: str, build: str) -> dict[str, Any]:
        return surface.cancel(req, project, "global", build)

    @router.route("POST", "/v1/projects/{project}/locations/{location}/builds/{build}:cancel")
    def cancel_regional(req: Request, project: str, location: str, build: str) -> dict[str, Any]:
        return surface.cancel(req, project, location, build)

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
