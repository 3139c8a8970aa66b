"""Resource Manager v3: the project itself, and its IAM policy.

CreateProject is a long-running operation at ``/v3/operations/{id}``; the project's IAM policy is read and written
with its etag (a stale etag answers 409 ABORTED: https://cloud.google.com/resource-manager/reference/rest/v3/
projects/setIamPolicy). Policies travel as REST JSON dicts (``bindings``, ``etag`` in base64, ``version``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp.clients import Adapter, Clients, polling
from deployer.gcp.errors import google_call, policy_conflicts

POLICY_VERSION = 3  # conditional bindings are only returned (and kept) at version 3


@dataclass(frozen=True)
class Project:
    project_id: str
    number: str  # "415104041262"
    state: str  # ACTIVE, DELETE_REQUESTED
    parent: str
    display_name: str

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"


def _project(message: Any) -> Project:
    from google.cloud import resourcemanager_v3

    return Project(
        project_id=message.project_id,
        number=str(message.name).removeprefix("projects/"),
        state=resourcemanager_v3.Project.State(message.state).name,
        parent=message.parent,
        display_name=message.display_name,
    )


class ResourceManagerAdapter(Adapter):
    def __init__(self, clients: Clients) -> None:
        super().__init__(clients)
        self._numbers: dict[str, str] = {}  # a project's number never changes: one read serves every caller

    def project_number(self, project: str) -> str | None:
        """The project's number ("415104041262"), or None when the caller may not see the project."""
        if project not in self._numbers:
            self.get_project(project)
        return self._numbers.get(project)

    def get_project(self, project: str) -> Project | None:
        """The project, or None when it does not exist or the caller may not see it.

        Google answers 403, not 404, for a project id that exists elsewhere or not at all and the caller cannot
        see (https://cloud.google.com/resource-manager/reference/rest/v3/projects/get): both read as "not yours".
        """
        from google.api_core import exceptions as gexc

        with google_call(f"looking up project {project}", project=project):
            try:
                found = self._clients.resource_manager.get_project(name=f"projects/{project}")
            except (gexc.NotFound, gexc.Forbidden, gexc.PermissionDenied):
                return None
        read = _project(found)
        self._numbers[project] = read.number
        return read

    def create_project(self, body: dict[str, Any], *, timeout_s: float = 300.0) -> Project:
        """``body`` is a REST ``Project`` (projectId, displayName, parent, labels); waits for the operation."""
        from google.api_core import exceptions as gexc
        from google.cloud import resourcemanager_v3

        project_id = str(body.get("projectId", ""))
        message = resourcemanager_v3.Project.from_json(json.dumps(body), ignore_unknown_fields=False)
        with google_call(f"creating project {project_id}", project=project_id):
            try:
                operation = self._clients.resource_manager.create_project(project=message)
            except gexc.Conflict as exc:
                raise DeployerError(
                    f"project id {project_id} is taken: project ids are global, and a deleted project keeps its "
                    "id for 30 days",
                    "choose another --project id, or drop --create if the project is yours (you may need access)",
                ) from exc
            # Project creation takes seconds at Google; poll soon, then back off.
            created = operation.result(timeout=timeout_s, polling=polling(timeout_s, initial_s=0.2))
        return _project(created)

    def get_iam_policy(self, project: str) -> dict[str, Any]:
        from google.protobuf import json_format

        with google_call(f"reading the IAM policy of project {project}", project=project):
            policy = self._clients.resource_manager.get_iam_policy(
                request={"resource": f"projects/{project}", "options": {"requested_policy_version": POLICY_VERSION}}
            )
        return dict(json_format.MessageToDict(policy))

    def set_iam_policy(self, project: str, policy: dict[str, Any]) -> dict[str, Any]:
        """Raises PolicyConflict on a stale etag (or a member not visible yet), for the caller's retry loop."""
        from google.iam.v1 import policy_pb2
        from google.protobuf import json_format

        message = json_format.ParseDict(policy, policy_pb2.Policy())
        action = f"setting the IAM policy of project {project}"
        with google_call(action, project=project), policy_conflicts(action):
            updated = self._clients.resource_manager.set_iam_policy(
                request={"resource": f"projects/{project}", "policy": message}
            )
        return dict(json_format.MessageToDict(updated))

    def test_permissions(self, project: str, permissions: list[str]) -> set[str]:
        """The subset of ``permissions`` the caller holds on the project (one call)."""
        with google_call(f"testing the caller's permissions on project {project}", project=project):
            answer = self._clients.resource_manager.test_iam_permissions(
                request={"resource": f"projects/{project}", "permissions": permissions}
            )
        return set(answer.permissions)
