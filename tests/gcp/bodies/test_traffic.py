"""The traffic bodies (gcp/bodies/traffic.py) and the owned-field diff (gcp/bodies/run_diff.py), as values."""

from __future__ import annotations

import pytest

from deployer.errors import BadInput
from deployer.gcp.bodies import traffic
from deployer.gcp.bodies.run_diff import field_changes
from deployer.gcp.bodies.traffic import BY_REVISION, LATEST

SERVICE = {
    "latestReadyRevision": "projects/p/locations/r/services/api/revisions/api-2",
    "traffic": [
        {"type": BY_REVISION, "revision": "api-1", "percent": 80, "tag": "blue"},
        {"type": LATEST, "percent": 20},
    ],
}


def test_a_split_names_revisions_latest_or_tags_and_keeps_tags() -> None:
    shares = traffic.parse_split("blue=30, latest=70", SERVICE, ["api-2", "api-1"])
    assert traffic.targets_of(shares) == [
        {"type": BY_REVISION, "revision": "api-1", "percent": 30, "tag": "blue"},
        {"type": LATEST, "percent": 70},
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [("api-1=60,latest=30", "sum to 90"), ("api-1=ninety", "REVISION=PERCENT"), ("api-9=100", "not a revision")],
)
def test_a_bad_split_is_bad_input(text: str, words: str) -> None:
    with pytest.raises(BadInput, match=words):
        traffic.parse_split(text, SERVICE, ["api-2", "api-1"])


def test_tagging_latest_tags_the_target_that_follows_it() -> None:
    shares = traffic.with_tag(SERVICE, "latest", "edge")
    assert {"type": LATEST, "percent": 20, "tag": "edge"} in traffic.targets_of(shares)
    untagged = traffic.without_tag(SERVICE, "blue")
    assert untagged is not None
    assert traffic.targets_of(untagged)[0] == {"type": BY_REVISION, "revision": "api-1", "percent": 80}
    assert traffic.without_tag(SERVICE, "nope") is None
    assert traffic.follows_latest(SERVICE) == 20


def _service(image: str, memory: str, **env: str) -> dict[str, object]:
    container = {
        "image": image,
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "resources": {"limits": {"cpu": "1", "memory": memory}},
    }
    return {"template": {"containers": [container]}}


def test_the_diff_shows_each_field_old_to_new_with_secrets_masked() -> None:
    desired = _service("repo/app@sha256:bbb", "1Gi", GREETING="hello", API_TOKEN="new-token")
    current = _service("repo/app@sha256:aaa", "512Mi", GREETING="hi", API_TOKEN="old-token", GONE="x")
    assert field_changes(desired, current) == [
        "image: repo/app@sha256:aaa → repo/app@sha256:bbb",
        "memory: 512Mi → 1Gi",
        'env.GREETING: "hi" → "hello"',
        "env.API_TOKEN: ******** → ********",
        'env.GONE: "x" → (unset)',
    ]
    assert field_changes(desired, desired) == []
