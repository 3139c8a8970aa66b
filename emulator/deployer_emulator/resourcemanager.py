"""Resource Manager v3 (and the v1 calls gcloud makes): projects, their IAM policies, operations.

Routes (URIs as google-cloud-resource-manager 1.19's REST transport calls them,
``resourcemanager_v3/services/projects/transports/rest_base.py``):
  ``POST /v3/projects`` (CreateProject, an operation ``operations/cp.N``), ``GET /v3/projects/{id or number}``,
  ``GET /v3/projects?parent=`` (ListProjects), ``GET /v3/projects:search?query=`` (SearchProjects),
  ``PATCH /v3/projects/{p}``, ``DELETE /v3/projects/{p}`` (state DELETE_REQUESTED), ``POST /v3/projects/{p}:undelete``,
  ``POST /v3/projects/{p}:getIamPolicy|setIamPolicy|testIamPermissions``, ``GET /v3/operations/{name=**}``; and the
  v1 forms gcloud uses by default (googlecloudsdk/api_lib/cloudresourcemanager/projects_util.py:
  DEFAULT_API_VERSION = 'v1'): ``GET /v1/projects/{p}``, ``POST /v1/projects/{p}:getIamPolicy|setIamPolicy|
  testIamPermissions``.

Google's behaviour reproduced: project ids are checked (6-30 characters, lowercase letters, digits, hyphens,
starting with a letter, not ending with a hyphen, no restricted words); an id that exists anywhere, whoever owns
it, is 409 "Requested entity already exists"; creating under ``organizations/N`` or ``folders/N`` needs
resourcemanager.projects.create there (roles/resourcemanager.projectCreator) and the creator becomes roles/owner;
IAM policies carry an etag (bytes: base64 on the wire) and a stale one is 409 ABORTED "There were concurrent policy
changes. ..."; a project that is not found and one the caller may not see answer the same 403 (Resource Manager
does not reveal which ids exist: googleapis/google-api-go-client#173).
"""

from __future__ import annotations

import os
import re
from typing import Any

from google.cloud import resourcemanager_v3

from deployer_emulator import protos, world
from deployer_emulator.common import copy_doc, now_rfc3339
from deployer_emulator.core import Emulator, OperationHandle, Request, paginate
from deployer_emulator.errors import ApiError, already_exists, invalid_argument, not_found
from deployer_emulator.iam.enforcer import permissions_held, visible_project
from deployer_emulator.iam.policies import (
    parse_set_policy,
    parse_test_permissions,
    policy_for_version,
    requested_policy_version,
    set_policy,
)

PROJECT_TYPE = "type.googleapis.com/google.cloud.resourcemanager.v3.Project"
CREATE_METADATA_TYPE = "type.googleapis.com/google.cloud.resourcemanager.v3.CreateProjectMetadata"
DELETE_METADATA_TYPE = "type.googleapis.com/google.cloud.resourcemanager.v3.DeleteProjectMetadata"
UNDELETE_METADATA_TYPE = "type.googleapis.com/google.cloud.resourcemanager.v3.UndeleteProjectMetadata"
UPDATE_METADATA_TYPE = "type.googleapis.com/google.cloud.resourcemanager.v3.UpdateProjectMetadata"

_PROJECT_OUTPUT_ONLY = ("name", "state", "createTime", "updateTime", "deleteTime", "etag")
# SearchProjects query terms the emulator understands (https://cloud.google.com/resource-manager/reference/rest/v3/
# projects/search): id/projectId, name/displayName, parent (or parent.type + parent.id), state, labels.KEY.
_QUERY_TERM_RE = re.compile(r"(?P<key>[A-Za-z_.]+[A-Za-z0-9_.-]*)\s*[:=]\s*(?P<value>\"[^\"]*\"|\S+)")


def _invalid_project_id(project_id: str) -> ApiError:
    # Unconfirmed wording; the rule is Google's
    # (https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin).
    description = (
        f"Project id '{project_id}' is invalid: it must be 6 to 30 characters of lowercase letters, digits or "
        "hyphens, start with a letter, not end with a hyphen, and not contain restricted strings such as "
        "'google' or 'ssl'."
    )
    return invalid_argument(description, field="project.project_id", description=description)


def _v1_project(project: dict[str, Any]) -> dict[str, Any]:
    """The v1 shape of a project (cloudresourcemanager v1 Project), which gcloud reads."""
    doc: dict[str, Any] = {
        "projectNumber": world.project_number_of(project),
        "projectId": project["projectId"],
        "lifecycleState": project.get("state", "ACTIVE"),
        "name": project.get("displayName", project["projectId"]),
        "createTime": project.get("createTime"),
    }
    parent = str(project.get("parent", ""))
    if parent:
        kind, _, parent_id = parent.partition("/")
        doc["parent"] = {"type": kind.rstrip("s"), "id": parent_id}
    if project.get("labels"):
        doc["labels"] = project["labels"]
    return doc


class ResourceManager:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def _find(self, req: Request, ref: str, permission: str) -> dict[str, Any]:
        return visible_project(self.emulator, req, "cloudresourcemanager.googleapis.com", permission, ref)

    # -- projects --
    def create(self, req: Request) -> dict[str, Any]:
        body = protos.to_json(protos.parse(resourcemanager_v3.Project, req.body, field="project"))
        project_id = str(body.get("projectId", ""))
        if not project_id:
            raise invalid_argument("project_id is required.", field="project.project_id")
        if not world.PROJECT_ID_RE.match(project_id) or any(w in project_id for w in world.PROJECT_ID_RESTRICTED):
            raise _invalid_project_id(project_id)
        parent = str(body.get("parent", ""))
        if parent and not re.fullmatch(r"(organizations|folders)/\d+", parent):
            raise invalid_argument(
                f"Invalid parent '{parent}': a project's parent is organizations/NUMBER or folders/NUMBER.",
                field="project.parent",
            )
        if parent:
            self.emulator.authorize(req, "resourcemanager.projects.create", parent)
        elif req.caller.startswith("serviceAccount:") and not world.is_open(self.emulator):
            # Unconfirmed wording; the rule: only users outside an organization create projects without a parent.
            raise ApiError("FAILED_PRECONDITION", "Service accounts cannot create projects without a parent.")
        labels = body.get("labels") or {}
        with self.emulator.mutation():
            if project_id in self.emulator.state.table(world.PROJECTS):
                # Also for another owner's project: ids are global
                # (terraform-provider-google#10267: "googleapi: Error 409: Requested entity already exists").
                raise already_exists("Requested entity already exists")
            project = world.create_project(
                self.emulator,
                project_id,
                parent=parent,
                owner=req.caller,
                display_name=str(body.get("displayName", "")),
                labels=labels,
            )
        now = project["createTime"]
        operation = f"operations/cp.{int.from_bytes(os.urandom(8), 'big') % 10**19}"
        metadata = {"@type": CREATE_METADATA_TYPE, "createTime": now, "gettable": True, "ready": True}

        def work(handle: OperationHandle) -> dict[str, Any]:
            current = world.find_project(self.emulator, project_id) or project
            return {"@type": PROJECT_TYPE, **current}

        self.emulator.start_operation(operation, metadata, work)
        return {"name": operation, "metadata": metadata, "done": False}

    def get(self, req: Request, project: str) -> dict[str, Any]:
        return self._find(req, project, "resourcemanager.projects.get")

    def list_projects(self, req: Request) -> dict[str, Any]:
        parent = req.param("parent") or ""
        if not re.fullmatch(r"(organizations|folders)/\d+", parent):
            raise invalid_argument(
                "parent is required: organizations/NUMBER or folders/NUMBER.", field="parent", description="parent"
            )
        self.emulator.authorize(req, "resourcemanager.projects.list", parent)
        show_deleted = req.flag("showDeleted")
        with self.emulator.state.lock:
            docs = [
                copy_doc(p)
                for _, p in sorted(self.emulator.state.table(world.PROJECTS).items())
                if p.get("parent") == parent and (show_deleted or p.get("state") == "ACTIVE")
            ]
        return paginate(docs, req, key="projects", default=500, maximum=1000)

    def search(self, req: Request) -> dict[str, Any]:
        predicate = _search_predicate(req.param("query") or "")
        with self.emulator.state.lock:
            candidates = [copy_doc(p) for _, p in sorted(self.emulator.state.table(world.PROJECTS).items())]
        visible = [
            p
            for p in candidates
            if permissions_held(self.emulator, req, ["resourcemanager.projects.get"], f"projects/{p['projectId']}")
            and predicate(p)
        ]
        return paginate(visible, req, key="projects", default=500, maximum=1000)

    def update(self, req: Request, project: str) -> dict[str, Any]:
        body = protos.to_json(protos.parse(resourcemanager_v3.Project, req.body, field="project"))
        current = self._find(req, project, "resourcemanager.projects.update")
        mask = [m.strip() for m in (req.param("updateMask") or "").split(",") if m.strip()]
        fields = [re.sub(r"_([a-z])", lambda m: m[1].upper(), f) for f in mask] or ["displayName", "labels"]
        for name in fields:
            if name not in ("displayName", "labels"):
                # UpdateProjectRequest: only display_name and labels can be changed.
                raise invalid_argument(f"Invalid update_mask path: {name}", field="update_mask")
        with self.emulator.mutation():
            stored = self.emulator.state.table(world.PROJECTS)[current["projectId"]]
            for name in fields:
                if body.get(name):
                    stored[name] = body[name]
                else:
                    stored.pop(name, None)
            stored["updateTime"] = now_rfc3339()
            updated = copy_doc(stored)
        return self._done(UPDATE_METADATA_TYPE, updated)

    def _done(self, metadata_type: str, project: dict[str, Any]) -> dict[str, Any]:
        operation = f"operations/cp.{int.from_bytes(os.urandom(8), 'big') % 10**19}"
        return self.emulator.start_operation(
            operation, {"@type": metadata_type}, lambda handle: {"@type": PROJECT_TYPE, **project}
        )

    def delete(self, req: Request, project: str) -> dict[str, Any]:
        current = self._find(req, project, "resourcemanager.projects.delete")
        if current.get("state") != "ACTIVE":
            raise ApiError("FAILED_PRECONDITION", f"Project {current['projectId']} is already pending deletion.")
        with self.emulator.mutation():
            stored = self.emulator.state.table(world.PROJECTS)[current["projectId"]]
            now = now_rfc3339()
            stored.update(state="DELETE_REQUESTED", deleteTime=now, updateTime=now)
            deleted = copy_doc(stored)
        return self._done(DELETE_METADATA_TYPE, deleted)

    def undelete(self, req: Request, project: str) -> dict[str, Any]:
        current = self._find(req, project, "resourcemanager.projects.undelete")
        if current.get("state") != "DELETE_REQUESTED":
            raise ApiError("FAILED_PRECONDITION", f"Project {current['projectId']} is not pending deletion.")
        with self.emulator.mutation():
            stored = self.emulator.state.table(world.PROJECTS)[current["projectId"]]
            stored["state"] = "ACTIVE"
            stored.pop("deleteTime", None)
            stored["updateTime"] = now_rfc3339()
            restored = copy_doc(stored)
        return self._done(UNDELETE_METADATA_TYPE, restored)

    # -- IAM --
    def get_iam_policy(self, req: Request, project: str) -> dict[str, Any]:
        version = requested_policy_version(req)
        found = self._find(req, project, "resourcemanager.projects.getIamPolicy")
        return policy_for_version(world.project_policy(self.emulator, found["projectId"]), version)

    def set_iam_policy(self, req: Request, project: str) -> dict[str, Any]:
        bindings, etag, _ = parse_set_policy(req)
        found = self._find(req, project, "resourcemanager.projects.setIamPolicy")
        return set_policy(self.emulator, world.PROJECT_POLICIES, found["projectId"], bindings, etag)

    def test_iam_permissions(self, req: Request, project: str) -> dict[str, Any]:
        permissions = parse_test_permissions(req)
        held = permissions_held(self.emulator, req, permissions, f"projects/{project}")
        return {"permissions": held} if held else {}

    # -- v1 (gcloud) --
    def get_v1(self, req: Request, project: str) -> dict[str, Any]:
        return _v1_project(self.get(req, project))

    def get_operation(self, req: Request, name: str) -> dict[str, Any]:
        operation = self.emulator.get_operation(f"operations/{name}")
        if not str(operation.get("metadata", {}).get("@type", "")).startswith(
            "type.googleapis.com/google.cloud.resourcemanager.v3."
        ):
            raise not_found(f"Operation operations/{name} not found.")
        return operation


def _search_predicate(query: str) -> Any:
    terms: list[tuple[str, str]] = []
    rest = query.strip()
    while rest:
        if rest.upper().startswith("AND "):
            rest = rest[4:].lstrip()
            continue
        match = _QUERY_TERM_RE.match(rest)
        if match is None:
            raise invalid_argument(f"Invalid query: {query}", field="query", description=query)
        terms.append((match["key"], match["value"].strip('"')))
        rest = rest[match.end() :].lstrip()

    def value_of(project: dict[str, Any], key: str) -> str | None:
        parent = str(project.get("parent", ""))
        if key in ("id", "projectId", "projectid"):
            return str(project["projectId"])
        if key in ("name", "displayName", "displayname"):
            return str(project.get("displayName", ""))
        if key == "parent":
            return parent
        if key == "parent.type":
            return parent.split("/", 1)[0].rstrip("s")
        if key == "parent.id":
            return parent.split("/", 1)[1] if "/" in parent else ""
        if key in ("state", "lifecycleState"):
            return str(project.get("state", ""))
        if key.startswith("labels."):
            return (project.get("labels") or {}).get(key[len("labels.") :])
        raise invalid_argument(f"Invalid query: unsupported field '{key}'.", field="query", description=key)

    def matches(project: dict[str, Any]) -> bool:
        for key, expected in terms:
            actual = value_of(project, key)
            if actual is None:
                return False
            if expected.endswith("*"):
                if not actual.lower().startswith(expected[:-1].lower()):
                    return False
            elif actual.lower() != expected.lower():
                return False
        return True

    return matches


def register(emulator: Emulator) -> None:
    rm = ResourceManager(emulator)
    router = emulator.router
    router.add("POST", "/v3/projects", lambda req: rm.create(req))
    router.add("GET", "/v3/projects", lambda req: rm.list_projects(req))
    router.add("GET", "/v3/projects:search", lambda req: rm.search(req))
    router.add("GET", "/v3/projects/{project}", rm.get)
    router.add("PATCH", "/v3/projects/{project}", rm.update)
    router.add("DELETE", "/v3/projects/{project}", rm.delete)
    router.add("POST", "/v3/projects/{project}:undelete", rm.undelete)
    router.add("POST", "/v3/projects/{project}:getIamPolicy", rm.get_iam_policy)
    router.add("POST", "/v3/projects/{project}:setIamPolicy", rm.set_iam_policy)
    router.add("POST", "/v3/projects/{project}:testIamPermissions", rm.test_iam_permissions)
    router.add("GET", "/v3/operations/{name=**}", rm.get_operation)
    router.add("GET", "/v1/projects/{project}", rm.get_v1)
    router.add("POST", "/v1/projects/{project}:getIamPolicy", rm.get_iam_policy)
    router.add("POST", "/v1/projects/{project}:setIamPolicy", rm.set_iam_policy)
    router.add("POST", "/v1/projects/{project}:testIamPermissions", rm.test_iam_permissions)
