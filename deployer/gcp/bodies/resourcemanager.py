"""Resource Manager v3: the project deployer creates.

Fields: https://cloud.google.com/resource-manager/reference/rest/v3/projects.
"""

from __future__ import annotations

from typing import Any


def project_body(project_id: str, parent: str | None, labels: dict[str, str]) -> dict[str, Any]:
    """A REST ``Project`` for CreateProject; the display name is the id (4-30 characters are allowed)."""
    body: dict[str, Any] = {"projectId": project_id, "displayName": project_id, "labels": dict(labels)}
    if parent:
        body["parent"] = parent
    return body
