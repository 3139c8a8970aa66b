"""Artifact Registry cleanup policies: Google's limits and shapes on create and update (through the real client),
and what running them deletes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import artifactregistry_v1
from google.protobuf import field_mask_pb2

from deployer_emulator.artifactregistry_cleanup import MAX_POLICIES, doomed_images

LOCATION = "us-central1"


def _client(emulator: Any) -> artifactregistry_v1.ArtifactRegistryClient:
    return artifactregistry_v1.ArtifactRegistryClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def _create(emulator: Any, policies: dict[str, Any]) -> Any:
    repository = artifactregistry_v1.Repository.from_json(json.dumps({"format": "DOCKER", "cleanupPolicies": policies}))
    return _client(emulator).create_repository(
        parent=f"projects/cl-{uuid.uuid4().hex[:10]}/locations/{LOCATION}", repository_id="apps", repository=repository
    )


def _keep(policy_id: str) -> dict[str, Any]:
    return {"id": policy_id, "action": "KEEP", "mostRecentVersions": {"keepCount": 3}}


BAD = {
    "more than 10": {f"p{n}": _keep(f"p{n}") for n in range(MAX_POLICIES + 1)},
    "no action": {"p": {"id": "p", "condition": {"tagState": "ANY"}}},
    "neither condition nor most recent": {"p": {"id": "p", "action": "DELETE"}},
    "most recent on a delete": {"p": {"id": "p", "action": "DELETE", "mostRecentVersions": {"keepCount": 3}}},
    "keep count 0": {"p": {"id": "p", "action": "KEEP", "mostRecentVersions": {"keepCount": 0}}},
    "id not its key": {"p": _keep("q")},
    "prefixes on untagged": {
        "p": {"id": "p", "action": "DELETE", "condition": {"tagState": "UNTAGGED", "tagPrefixes": ["v"]}}
    },
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_policies_google_refuses_are_refused_on_create(emulator: Any, case: str) -> None:
    with pytest.raises(exceptions.BadRequest):
        _create(emulator, BAD[case])


def test_ten_policies_are_accepted_and_an_update_is_checked_too(emulator: Any) -> None:
    created = _create(emulator, {f"p{n}": _keep(f"p{n}") for n in range(MAX_POLICIES)}).result(timeout=30)
    assert len(created.cleanup_policies) == MAX_POLICIES
    bad = artifactregistry_v1.Repository(name=created.name)
    bad.cleanup_policies["p0"] = artifactregistry_v1.CleanupPolicy(id="p0", action="DELETE")
    with pytest.raises(exceptions.BadRequest):
        _client(emulator).update_repository(
            repository=bad, update_mask=field_mask_pb2.FieldMask(paths=["cleanup_policies"])
        )


def _image(digest: str, tags: list[str], uploaded: str) -> dict[str, Any]:
    name = f"projects/p/locations/l/repositories/r/dockerImages/app@{digest}"
    return {"name": name, "tags": tags, "uploadTime": uploaded}


def _policy(policy_id: str, action: str, **shape: Any) -> dict[str, Any]:
    return {"id": policy_id, "action": action, **shape}


def test_a_keep_policy_wins_over_a_delete_policy() -> None:
    old_deployed = _image("sha256:a", ["src-1", "deployed-run-app"], "2026-01-01T00:00:00Z")
    old_build = _image("sha256:b", ["src-2"], "2026-01-02T00:00:00Z")
    untagged = _image("sha256:c", [], "2026-01-03T00:00:00Z")
    newest = _image("sha256:d", ["src-3"], "2026-01-04T00:00:00Z")
    week = "604800s"
    policies = {
        "recent": _policy("recent", "KEEP", mostRecentVersions={"keepCount": 1}),
        "deployed": _policy("deployed", "KEEP", condition={"tagState": "TAGGED", "tagPrefixes": ["deployed-"]}),
        "untagged": _policy("untagged", "DELETE", condition={"tagState": "UNTAGGED", "olderThan": week}),
        "builds": _policy(
            "builds", "DELETE", condition={"tagState": "TAGGED", "tagPrefixes": ["src-"], "olderThan": week}
        ),
    }
    images = [old_deployed, old_build, untagged, newest]
    now = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    assert doomed_images(policies, images, now) == [old_build["name"], untagged["name"]]
    # Nothing is older than a week two days after the last upload.
    assert doomed_images(policies, images, datetime(2026, 1, 6, tzinfo=UTC).timestamp()) == []
