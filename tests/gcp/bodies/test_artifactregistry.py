"""Pure tier: Artifact Registry names and the repository body, parsed strictly by artifactregistry_v1's types."""

from __future__ import annotations

import json

from google.cloud import artifactregistry_v1

from deployer.gcp.bodies.artifactregistry import cleanup_policies, image_name, repository_body


def test_image_name_for_domain_scoped_project() -> None:
    assert image_name("example.com:proj", "us-central1", "deployer", "api") == (
        "us-central1-docker.pkg.dev/example.com/proj/deployer/api"
    )


def test_repository_body_is_a_docker_repository() -> None:
    assert repository_body()["format"] == "DOCKER"


def test_repository_with_cleanup_policies_is_a_strict_artifact_registry_repository() -> None:
    policies = cleanup_policies(10, 7 * 86400)
    body = {"format": "DOCKER", "cleanupPolicies": policies}
    repo = artifactregistry_v1.Repository.from_json(json.dumps(body), ignore_unknown_fields=False)
    keep = repo.cleanup_policies["deployer-keep-recent"]
    delete = repo.cleanup_policies["deployer-delete-untagged"]
    assert keep.action == artifactregistry_v1.CleanupPolicy.Action.KEEP
    assert keep.most_recent_versions.keep_count == 10
    assert delete.action == artifactregistry_v1.CleanupPolicy.Action.DELETE
    assert delete.condition.tag_state == artifactregistry_v1.CleanupPolicyCondition.TagState.UNTAGGED
    assert delete.condition.older_than.total_seconds() == 7 * 86400
    # Every build tags its image: old build tags are deleted too, or the repository would only grow.
    builds = repo.cleanup_policies["deployer-delete-old-builds"]
    assert builds.action == artifactregistry_v1.CleanupPolicy.Action.DELETE
    assert builds.condition.tag_state == artifactregistry_v1.CleanupPolicyCondition.TagState.TAGGED
    assert list(builds.condition.tag_prefixes) == ["src-", "git-"]
    assert builds.condition.older_than.total_seconds() == 7 * 86400
