"""Artifact Registry: the Docker repository deployer creates, and its cleanup policies."""

from __future__ import annotations

from typing import Any

from deployer.gcp.bodies.labels import managed_by_label

KEEP_POLICY_ID = "deployer-keep-recent"
DELETE_POLICY_ID = "deployer-delete-untagged"
DELETE_BUILDS_POLICY_ID = "deployer-delete-old-builds"
KEEP_DEPLOYED_POLICY_ID = "deployer-keep-deployed"
# The tag a deploy puts on the image it deployed (services/deployed.py): one per target, moved by each deploy.
DEPLOYED_TAG_PREFIX = "deployed-"
# The tags deployer's builds push besides `latest`: one per source and one per clean commit.
BUILD_TAG_PREFIXES = ("src-", "git-")


def registry_host(region: str) -> str:
    return f"{region}-docker.pkg.dev"


def image_name(project: str, region: str, repository: str, name: str) -> str:
    """``LOCATION-docker.pkg.dev/PROJECT/REPO/IMAGE``; a domain-scoped project's ':' becomes '/'."""
    return f"{registry_host(region)}/{project.replace(':', '/')}/{repository}/{name}"


def repository_body(
    description: str = "Images built by deployer", cleanup_policies: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Docker ``Repository``; with ``cleanup_policies`` (by id, as ``cleanup_policies()`` makes them) set too."""
    body: dict[str, Any] = {"format": "DOCKER", "description": description, "labels": managed_by_label()}
    if cleanup_policies is not None:
        body["cleanupPolicies"] = cleanup_policies
    return body


def deployed_tag(kind: str, name: str) -> str:
    """``deployed-run-api``: the tag on the image a target runs; a Docker tag is at most 128 characters."""
    return f"{DEPLOYED_TAG_PREFIX}{kind}-{name}"[:128]


def cleanup_policies(keep_versions: int, untagged_older_than_s: int) -> dict[str, Any]:
    """Artifact Registry cleanup policies, by id: the most recent N versions of each image are kept; untagged images
    older than the age are deleted, and so are the images deployer's builds tagged (``src-…``, ``git-…``) once
    older than the age: every build tags its image, so without that the repository would only grow.
    (https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy: a KEEP policy wins over a DELETE
    one, so the newest N and whatever `latest` points at among them stay.) Whatever a Cloud Run service, a job or a
    VM runs carries a ``deployed-…`` tag, and a KEEP policy on that prefix keeps it however old it is."""
    older_than = f"{untagged_older_than_s}s"
    return {
        KEEP_POLICY_ID: {"id": KEEP_POLICY_ID, "action": "KEEP", "mostRecentVersions": {"keepCount": keep_versions}},
        KEEP_DEPLOYED_POLICY_ID: {
            "id": KEEP_DEPLOYED_POLICY_ID,
            "action": "KEEP",
            "condition": {"tagState": "TAGGED", "tagPrefixes": [DEPLOYED_TAG_PREFIX]},
        },
        DELETE_POLICY_ID: {
            "id": DELETE_POLICY_ID,
            "action": "DELETE",
            "condition": {"tagState": "UNTAGGED", "olderThan": older_than},
        },
        DELETE_BUILDS_POLICY_ID: {
            "id": DELETE_BUILDS_POLICY_ID,
            "action": "DELETE",
            "condition": {"tagState": "TAGGED", "tagPrefixes": list(BUILD_TAG_PREFIXES), "olderThan": older_than},
        },
    }


def version_name(image: str) -> str | None:
    """The Artifact Registry version of ``LOCATION-docker.pkg.dev/PROJECT/REPO/PACKAGE@sha256:…``
    (``projects/P/locations/L/repositories/R/packages/PACKAGE/versions/sha256:…``, the package's "/" as %2F);
    None for an image elsewhere or named by a tag only."""
    from urllib.parse import quote

    path, at, digest = image.partition("@")
    host, _, rest = path.partition("/")
    parts = rest.split("/", 2)
    if not at or not host.endswith("-docker.pkg.dev") or len(parts) != 3:
        return None
    project, repository, package = parts
    package = package.split(":", 1)[0]
    location = host.removesuffix("-docker.pkg.dev")
    return (
        f"projects/{project}/locations/{location}/repositories/{repository}/packages/{quote(package, safe='')}"
        f"/versions/{digest}"
    )
