"""Artifact Registry cleanup policies: checked as Google checks them, and run on demand.

The shapes are the v1 protos' (google/devtools/artifactregistry/v1/repository.proto): ``Repository.cleanup_policies``
is a map from policy id to ``CleanupPolicy`` {``id``, ``action`` (DELETE or KEEP), one of ``condition``
(``CleanupPolicyCondition``: ``tagState`` TAGGED/UNTAGGED/ANY, ``tagPrefixes``, ``versionNamePrefixes``,
``packageNamePrefixes``, ``olderThan``, ``newerThan``) or ``mostRecentVersions``
(``CleanupPolicyMostRecentVersions``: ``packageNamePrefixes``, ``keepCount``)}. The rules
(https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview and .../cleanup-policy):
at most 10 policies per repository; a version that matches both a delete and a keep policy is kept; "keep most
recent versions" is a keep policy and cannot be combined with conditions in one policy.

Google runs the policies in a background job about once a day. Here ``doomed_images`` says what they delete at a
given time; artifactregistry.py's ``run_cleanup`` (and the admin endpoint ``POST /_emulator/artifactregistry/cleanup``
with ``{"repository": NAME, "days_later": N}``) deletes it at once, as if N days had passed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote

from deployer_emulator.errors import invalid_argument

MAX_POLICIES = 10  # "You can apply a maximum of 10 cleanup policies to a repository."
_ACTIONS = ("DELETE", "KEEP")
_TAG_STATES = ("TAGGED", "UNTAGGED", "ANY")


def check_cleanup_policies(policies: dict[str, Any]) -> None:
    """Refuse policies Google refuses, with a message naming the policy and the field."""
    if len(policies) > MAX_POLICIES:
        raise invalid_argument(
            f"a repository can have at most {MAX_POLICIES} cleanup policies, got {len(policies)}",
            field="repository.cleanup_policies",
        )
    for key, policy in policies.items():
        where = f"repository.cleanup_policies[{key!r}]"
        if policy.get("id", key) != key:
            raise invalid_argument(
                f"cleanup policy id {policy.get('id')!r} does not match its key {key!r}", field=where
            )
        if policy.get("action") not in _ACTIONS:
            raise invalid_argument(f"cleanup policy {key!r}: action must be DELETE or KEEP", field=f"{where}.action")
        condition, recent = policy.get("condition"), policy.get("mostRecentVersions")
        if (condition is None) == (recent is None):
            raise invalid_argument(
                f"cleanup policy {key!r}: exactly one of condition or most_recent_versions is required",
                field=where,
            )
        if recent is not None:
            if policy["action"] != "KEEP":
                raise invalid_argument(
                    f"cleanup policy {key!r}: most_recent_versions is for KEEP policies", field=f"{where}.action"
                )
            if int(recent.get("keepCount", 0)) < 1:
                raise invalid_argument(
                    f"cleanup policy {key!r}: keep_count must be at least 1",
                    field=f"{where}.most_recent_versions.keep_count",
                )
        elif condition.get("tagState", "ANY") not in _TAG_STATES:
            raise invalid_argument(
                f"cleanup policy {key!r}: tag_state must be TAGGED, UNTAGGED or ANY",
                field=f"{where}.condition.tag_state",
            )
        elif condition.get("tagState") == "UNTAGGED" and condition.get("tagPrefixes"):
            raise invalid_argument(
                f"cleanup policy {key!r}: tag_prefixes cannot match an UNTAGGED version",
                field=f"{where}.condition.tag_prefixes",
            )


def _seconds(duration: str | None) -> float | None:
    # google.protobuf.Duration in JSON: seconds with an "s" suffix ("2592000s").
    return float(duration[:-1]) if duration else None


def _uploaded(image: dict[str, Any]) -> float:
    return datetime.fromisoformat(image["uploadTime"].replace("Z", "+00:00")).timestamp()


def _package(image: dict[str, Any]) -> str:
    return unquote(image["name"].rsplit("/dockerImages/", 1)[1].rpartition("@")[0])


def _matches(condition: dict[str, Any], image: dict[str, Any], age_s: float) -> bool:
    tags: list[str] = image.get("tags", [])
    state = condition.get("tagState", "ANY")
    if (state == "TAGGED" and not tags) or (state == "UNTAGGED" and tags):
        return False
    prefixes = condition.get("tagPrefixes") or []
    if prefixes and not any(tag.startswith(tuple(prefixes)) for tag in tags):
        return False
    packages = condition.get("packageNamePrefixes") or []
    if packages and not _package(image).startswith(tuple(packages)):
        return False
    versions = condition.get("versionNamePrefixes") or []
    if versions and not image["name"].rpartition("@")[2].startswith(tuple(versions)):
        return False
    older, newer = _seconds(condition.get("olderThan")), _seconds(condition.get("newerThan"))
    return (older is None or age_s > older) and (newer is None or age_s < newer)


def _most_recent(recent: dict[str, Any], images: list[dict[str, Any]]) -> set[str]:
    """The names of the newest ``keepCount`` versions of each package the policy covers."""
    prefixes = tuple(recent.get("packageNamePrefixes") or [""])
    by_package: dict[str, list[dict[str, Any]]] = {}
    for image in images:
        if _package(image).startswith(prefixes):
            by_package.setdefault(_package(image), []).append(image)
    kept: set[str] = set()
    for versions in by_package.values():
        versions.sort(key=_uploaded, reverse=True)
        kept.update(image["name"] for image in versions[: int(recent.get("keepCount", 0))])
    return kept


def doomed_images(policies: dict[str, Any], images: list[dict[str, Any]], now: float) -> list[str]:
    """The names of the versions the policies delete at ``now``: matched by a DELETE policy and by no KEEP one."""
    kept: set[str] = set()
    doomed: set[str] = set()
    for policy in policies.values():
        if "mostRecentVersions" in policy:
            kept |= _most_recent(policy["mostRecentVersions"], images)
            continue
        matched = {i["name"] for i in images if _matches(policy["condition"], i, now - _uploaded(i))}
        (kept if policy["action"] == "KEEP" else doomed).update(matched)
    return sorted(doomed - kept)
