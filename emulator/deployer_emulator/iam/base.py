"""The IAM v1 surface's shared pieces: request bodies checked against the discovery schema, the project lookup."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from deployer_emulator import world
from deployer_emulator.common import copy_doc
from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import invalid_argument, not_found

POOLS = "iam.workloadIdentityPools"  # pool name (projects/NUMBER/...) -> WorkloadIdentityPool
PROVIDERS = "iam.workloadIdentityPoolProviders"  # provider name -> WorkloadIdentityPoolProvider

POOL_OPERATION_METADATA = "type.googleapis.com/google.iam.admin.v1.WorkloadIdentityPoolOperationMetadata"


def _check_fields(doc: Any, spec: dict[str, Any], where: str) -> None:
    if not isinstance(doc, dict):
        raise invalid_argument(f"Invalid JSON payload received. Expected an object at '{where}'.")
    for name, value in doc.items():
        expected = spec.get(name)
        if expected is None:
            at = f" at '{where}'" if where else ""
            raise invalid_argument(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')
        if isinstance(expected, dict):
            # Google names the place by the proto field path: serviceAccount -> service_account.
            snake = re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), name)
            _check_fields(value, expected, f"{where}.{snake}" if where else snake)
        elif not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise invalid_argument(
                f"Invalid value at '{where + '.' if where else ''}{name}' ({expected.__name__}), {json.dumps(value)}"
            )


def _in_30_days() -> str:
    return (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class IamBase:
    """The IAM v1 state: the project a request names, the pool parent, pool and provider operations."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # -- service accounts --
    def _project(self, req: Request, ref: str) -> dict[str, Any]:
        project = world.find_project(self.emulator, ref)
        if project is None:
            # Reached only when the caller holds the permission: a project that does not exist has no policy.
            raise not_found(f"Project {ref} not found.")
        return project

    # -- workload identity pools --
    def _parent(self, req: Request, project: str, location: str) -> str:
        if location != "global":
            # "The only supported location is `global`." (CreateWorkloadIdentityPoolRequest.parent)
            raise invalid_argument(f"Location {location} is not supported; the only supported location is global.")
        found = self._project(req, project)
        return f"projects/{world.project_number_of(found)}/locations/global"

    def _operation(self, resource_name: str) -> dict[str, Any]:
        """Pool and provider operations live under the resource and finish without a response: clients read the
        resource again (gcloud's command_lib/iam/identity_pool_waiter.py)."""
        name = f"{resource_name}/operations/{uuid.uuid4().hex[:20]}"
        operation: dict[str, Any] = {"name": name, "metadata": {"@type": POOL_OPERATION_METADATA}, "done": False}
        with self.emulator.mutation():
            self.emulator.state.table("operations")[name] = operation

        def finish() -> None:
            time.sleep(0.05)
            with self.emulator.mutation():
                self.emulator.state.table("operations")[name]["done"] = True

        self.emulator.spawn(finish, f"operation {name}")
        return copy_doc(operation)
