"""Pure tier: the project body, parsed strictly by resourcemanager_v3's types."""

from __future__ import annotations

import json

from google.cloud import resourcemanager_v3

from deployer.gcp.bodies.resourcemanager import project_body


def test_project_body_is_a_strict_resource_manager_project() -> None:
    body = project_body("new-proj-1", "organizations/123", {"managed-by": "deployer"})
    project = resourcemanager_v3.Project.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert (project.project_id, project.parent, project.display_name) == (
        "new-proj-1",
        "organizations/123",
        body["projectId"],
    )
    assert "parent" not in project_body("new-proj-1", None, {})
