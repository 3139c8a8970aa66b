"""Cloud Run's long-running operations: get, wait, list, delete."""

from __future__ import annotations

import copy
from typing import Any

from deployer_emulator.core import Request, paginate
from deployer_emulator.errors import ApiError, invalid_argument, not_found
from deployer_emulator.run.base import _check_query, _duration_s
from deployer_emulator.run.state import RunBase


class Operations(RunBase):
    """The operation handlers."""

    # -- operations --------------------------------------------------------------------------------------------
    def _run_operation(self, project: str, location: str, operation: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        try:
            found = self.emulator.get_operation(name)
        except ApiError:
            found = None
        if found is None or not str(found.get("metadata", {}).get("@type", "")).startswith(
            "type.googleapis.com/google.cloud.run.v2."
        ):
            raise not_found(f"Operation '{name}' not found.")
        return found

    def get_operation(self, req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        self.emulator.authorize(req, "run.operations.get", name)
        return self._run_operation(project, location, operation)

    def wait_operation(self, req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        self.emulator.authorize(req, "run.operations.get", name)
        self._run_operation(project, location, operation)
        body = req.json()
        timeout = body.get("timeout")
        unknown = set(body) - {"timeout", "name"}
        if unknown:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.'
            )
        try:
            wait_s = _duration_s(str(timeout)) if timeout else 60.0
        except ValueError as exc:
            raise invalid_argument(
                f"Invalid value at 'timeout' (type.googleapis.com/google.protobuf.Duration), \"{timeout}\""
            ) from exc
        return self.emulator.wait_operation(
            f"projects/{project}/locations/{location}/operations/{operation}", min(wait_s, 600.0)
        )

    def list_operations(self, req: Request, project: str, location: str) -> dict[str, Any]:
        _check_query(req, {"filter", "pageSize", "pageToken", "returnPartialSuccess"})
        self.emulator.authorize(req, "run.operations.list", f"projects/{project}/locations/{location}")
        prefix = f"projects/{project}/locations/{location}/operations/"
        with self.emulator.state.lock:
            operations = [
                copy.deepcopy(op)
                for name, op in sorted(self._table("operations").items())
                if name.startswith(prefix)
                and str(op.get("metadata", {}).get("@type", "")).startswith("type.googleapis.com/google.cloud.run.v2.")
            ]
        return paginate(operations, req, key="operations")

    def delete_operation(self, req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        self.emulator.authorize(req, "run.operations.delete", name)
        self._run_operation(project, location, operation)
        with self.emulator.mutation():
            self._table("operations").pop(f"projects/{project}/locations/{location}/operations/{operation}", None)
        return {}
