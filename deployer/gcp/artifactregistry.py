"""Artifact Registry: the Docker repository, and whether an image tag already exists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from deployer.gcp.clients import Adapter
from deployer.gcp.errors import google_call


@dataclass(frozen=True)
class Repository:
    name: str
    format: str
    registry_uri: str


# The permissions the calls below need: find the repository and an image by its content tag (repositories.get,
# tags.get), and create the repository when it is missing (https://cloud.google.com/artifact-registry/docs/
# access-control#permissions).
LOOKUP_PERMISSIONS = ("artifactregistry.repositories.get", "artifactregistry.tags.get")
CREATE_PERMISSIONS = ("artifactregistry.repositories.create",)


class ArtifactRegistryAdapter(Adapter):
    def _find_repository(self, project: str, location: str, repository: str) -> Any | None:
        """The repository message, or None when it does not exist."""
        from google.api_core import exceptions as gexc

        name = f"projects/{project}/locations/{location}/repositories/{repository}"
        with google_call(f"looking up Artifact Registry repository {repository}", project=project):
            try:
                repo = self._clients.artifact_registry.get_repository(name=name)
            except gexc.NotFound:
                return None
        return repo

    def get_repository(self, project: str, location: str, repository: str) -> Repository | None:
        from google.cloud import artifactregistry_v1

        repo = self._find_repository(project, location, repository)
        if repo is None:
            return None
        return Repository(repo.name, artifactregistry_v1.Repository.Format(repo.format_).name, repo.registry_uri)

    def create_repository(self, project: str, location: str, repository: str, body: dict[str, Any]) -> Repository:
        from google.cloud import artifactregistry_v1

        repo = artifactregistry_v1.Repository.from_json(json.dumps(body), ignore_unknown_fields=False)
        with google_call(f"creating Artifact Registry repository {repository}", project=project):
            operation = self._clients.artifact_registry.create_repository(
                parent=f"projects/{project}/locations/{location}", repository_id=repository, repository=repo
            )
            created = operation.result(timeout=300)
        return Repository(
            created.name, artifactregistry_v1.Repository.Format(created.format_).name, created.registry_uri
        )

    def tag_digest(self, project: str, location: str, repository: str, package: str, tag: str) -> str | None:
        """The ``sha256:…`` digest the tag points at, or None when the tag does not exist."""
        from google.api_core import exceptions as gexc

        # Package names with "/" are escaped as %2F in the resource name.
        name = (
            f"projects/{project}/locations/{location}/repositories/{repository}"
            f"/packages/{quote(package, safe='')}/tags/{tag}"
        )
        with google_call(f"looking up image tag {package}:{tag}", project=project):
            try:
                found = self._clients.artifact_registry.get_tag(name=name)
            except gexc.NotFound:
                return None
        version: str = found.version
        return version.rsplit("/", 1)[-1] if version else None

    def set_tag(self, project: str, location: str, repository: str, package: str, tag: str, digest: str) -> bool:
        """Point ``tag`` at the version ``digest`` (CreateTag, or UpdateTag of ``version`` when the tag is on another
        version); False, sending nothing, when it already points there."""
        from google.cloud import artifactregistry_v1
        from google.protobuf import field_mask_pb2

        current = self.tag_digest(project, location, repository, package, tag)
        if current == digest:
            return False
        package_name = f"projects/{project}/locations/{location}/repositories/{repository}/packages/" + quote(
            package, safe=""
        )
        version = f"{package_name}/versions/{digest}"
        client = self._clients.artifact_registry
        with google_call(f"tagging image {package}@{digest} {tag}", project=project):
            if current is None:
                client.create_tag(parent=package_name, tag_id=tag, tag=artifactregistry_v1.Tag(version=version))
            else:
                client.update_tag(
                    tag=artifactregistry_v1.Tag(name=f"{package_name}/tags/{tag}", version=version),
                    update_mask=field_mask_pb2.FieldMask(paths=["version"]),
                )
        return True

    def cleanup_policies(self, project: str, location: str, repository: str) -> dict[str, Any] | None:
        """The repository's ``cleanupPolicies`` as REST JSON (by policy id), or None when it does not exist."""
        from google.protobuf import json_format

        repo = self._find_repository(project, location, repository)
        if repo is None:
            return None
        doc = json_format.MessageToDict(type(repo).pb(repo))
        return dict(doc.get("cleanupPolicies") or {})

    def set_cleanup_policies(self, project: str, location: str, repository: str, policies: dict[str, Any]) -> None:
        """Replace the repository's cleanup policies (update mask ``cleanup_policies``)."""
        from google.cloud import artifactregistry_v1
        from google.protobuf import field_mask_pb2

        name = f"projects/{project}/locations/{location}/repositories/{repository}"
        repo = artifactregistry_v1.Repository.from_json(
            json.dumps({"name": name, "cleanupPolicies": policies}), ignore_unknown_fields=False
        )
        with google_call(f"updating the cleanup policies of repository {repository}", project=project):
            self._clients.artifact_registry.update_repository(
                repository=repo, update_mask=field_mask_pb2.FieldMask(paths=["cleanup_policies"])
            )

    def delete_version(self, name: str, *, timeout_s: float = 300.0) -> None:
        """Delete an image version and the tags on it (DeleteVersionRequest.force) and wait."""
        with google_call(f"deleting image {name.rsplit('/versions/', 1)[-1]}", project=name.split("/")[1]):
            operation = self._clients.artifact_registry.delete_version(request={"name": name, "force": True})
            operation.result(timeout=timeout_s)
