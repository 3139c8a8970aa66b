"""Pure tier: Cloud Run bodies as values, parsed strictly by run_v2's types: the owned fields, how a live service
compares with them and is merged, public access, and the preview deploy's revision and traffic."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from google.cloud import run_v2

from deployer.gcp.bodies.run import (
    BY_REVISION,
    LATEST,
    PREVIEW_PIN_LABEL,
    ServiceSpec,
    merge_owned,
    owned_differences,
    preview_body,
    preview_traffic,
    service_body,
    updated_body,
    with_public_access,
)

SERVICE = ServiceSpec(
    image="europe-west4-docker.pkg.dev/my-proj/deployer/api@sha256:" + "a" * 64,
    env=(("A", "1"), ("B", "two")),
    cpu="2",
    memory="1Gi",
    min_instances=0,
    max_instances=3,
    concurrency=80,
    port=8080,
    timeout_s=300,
)


def test_service_body_sets_cpu_idle_explicitly_and_parses_strictly() -> None:
    body = service_body(SERVICE)
    container = body["template"]["containers"][0]
    assert container["resources"] == {"limits": {"cpu": "2", "memory": "1Gi"}, "cpuIdle": True}
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}]
    assert container["ports"] == [{"containerPort": 8080}]
    assert body["template"]["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 3}
    service = run_v2.Service.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert service.template.containers[0].resources.cpu_idle is True
    assert service.template.max_instance_request_concurrency == 80


def _as_google_returns(body: dict) -> dict:  # type: ignore[type-arg]
    """The body as Google would return it: empty values omitted, defaults and outputs filled in, ints as strings."""
    returned = json.loads(json.dumps(body))
    template = returned["template"]
    container = template["containers"][0]
    for key in ("args", "command"):
        container.pop(key)
    container["name"] = "placeholder-1"
    container["ports"][0]["name"] = "http1"
    container["resources"]["startupCpuBoost"] = True
    template["serviceAccount"] = "123-compute@developer.gserviceaccount.com"
    template["scaling"] = {"maxInstanceCount": 3}
    returned["uri"] = "https://api-xyz.a.run.app"
    returned["generation"] = "2"
    returned["labels"]["other"] = "kept"
    return returned


def test_owned_differences_ignores_what_google_fills_in() -> None:
    desired = service_body(SERVICE)
    current = _as_google_returns(desired)
    # No service account in the config means the default one, which Google reports by its email: not a change.
    assert "serviceAccount" not in desired["template"]
    assert owned_differences(desired, current) == []
    # An explicit service account is owned and compared.
    desired["template"]["serviceAccount"] = "runner@my-proj.iam.gserviceaccount.com"
    assert owned_differences(desired, current) == ["template.serviceAccount"]


def test_owned_differences_names_each_changed_field() -> None:
    desired = service_body(SERVICE)
    current = json.loads(json.dumps(desired))
    current["template"]["containers"][0]["env"][1]["value"] = "old"
    current["template"]["containers"][0]["args"] = ["--old"]
    current["template"]["maxInstanceRequestConcurrency"] = "40"
    assert owned_differences(desired, current) == [
        "template.maxInstanceRequestConcurrency",
        "template.containers[0].args",
        "template.containers[0].env[1].value",
    ]


def test_merge_owned_replaces_owned_fields_and_keeps_the_rest() -> None:
    desired = service_body(SERVICE)
    current = {
        "name": "projects/p/locations/r/services/api",
        "etag": '"abc"',
        "labels": {"team": "ml"},
        "ingress": "INGRESS_TRAFFIC_ALL",
        "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
        "template": {
            "revision": "api-pinned",
            "volumes": [{"name": "cache", "emptyDir": {}}],
            "containers": [
                {"image": "old", "name": "app", "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
                {"image": "sidecar", "name": "proxy"},
            ],
        },
    }
    merged = merge_owned(current, desired)
    assert merged["labels"] == {"team": "ml", "managed-by": "deployer"}
    assert merged["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert merged["traffic"] == current["traffic"]
    assert merged["template"]["volumes"] == current["template"]["volumes"]
    assert "revision" not in merged["template"]
    first, second = merged["template"]["containers"]
    assert first["image"] == SERVICE.image
    assert first["name"] == "app"
    assert first["volumeMounts"] == [{"name": "cache", "mountPath": "/cache"}]
    assert second == {"image": "sidecar", "name": "proxy"}
    assert owned_differences(desired, merged) == []


def test_public_access_is_added_once_and_removed_cleanly() -> None:
    empty = {"etag": "BwYAAAA="}
    public = with_public_access(empty, True)
    assert public == {"etag": "BwYAAAA=", "bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]}
    assert with_public_access(public, True) is None
    private = with_public_access(public, False)
    assert private == {"etag": "BwYAAAA=", "bindings": []}
    assert with_public_access(empty, False) is None
    shared = {"bindings": [{"role": "roles/run.invoker", "members": ["user:a@example.com", "allUsers"]}]}
    assert with_public_access(shared, False) == {
        "bindings": [{"role": "roles/run.invoker", "members": ["user:a@example.com"]}]
    }


# --- preview deploys ------------------------------------------------------------------------------------------------

CURRENT: dict[str, Any] = {
    "name": "projects/p/locations/r/services/api",
    "labels": {"managed-by": "deployer"},
    "latestReadyRevision": "projects/p/locations/r/services/api/revisions/api-00002-abc",
    "traffic": [{"type": LATEST, "percent": 100}],
    "template": {"revision": "api-00002-abc", "containers": [{"image": "old", "name": "app"}]},
}
DESIRED = service_body(
    replace(
        SERVICE, image="europe-west4-docker.pkg.dev/p/deployer/api@sha256:" + "b" * 64, env=(), cpu="1", memory="512Mi"
    )
)


def test_the_preview_pins_latest_traffic_and_adds_its_tag_at_zero() -> None:
    traffic, pinned = preview_traffic(CURRENT, "api-pr-1-12345678", "pr-1")
    assert pinned == "api-00002-abc"
    assert traffic == [
        {"type": BY_REVISION, "revision": "api-00002-abc", "percent": 100},
        {"type": BY_REVISION, "revision": "api-pr-1-12345678", "percent": 0, "tag": "pr-1"},
    ]


def test_an_earlier_preview_under_the_same_tag_is_replaced_and_a_split_kept() -> None:
    current = {
        **CURRENT,
        "traffic": [
            {"type": BY_REVISION, "revision": "api-00001-old", "percent": 90},
            {"type": BY_REVISION, "revision": "api-00002-abc", "percent": 10, "tag": "canary"},
            {"type": BY_REVISION, "revision": "api-pr-1-aaaaaaaa", "tag": "pr-1"},
            {"type": BY_REVISION, "revision": "api-pr-2-bbbbbbbb", "tag": "pr-2"},
        ],
    }
    traffic, pinned = preview_traffic(current, "api-pr-1-cccccccc", "pr-1")
    assert pinned == ""  # nothing followed the latest revision: nothing to pin
    assert traffic == [
        *current["traffic"][:2],
        current["traffic"][3],
        {"type": BY_REVISION, "revision": "api-pr-1-cccccccc", "percent": 0, "tag": "pr-1"},
    ]


def test_preview_body_names_the_revision_by_content_and_labels_the_pin() -> None:
    body = preview_body(CURRENT, DESIRED, "api", "pr-7")
    revision = body["template"]["revision"]
    assert revision.startswith("api-pr-7-")
    assert len(revision) == len("api-pr-7-") + 8
    assert body["labels"] == {"managed-by": "deployer", PREVIEW_PIN_LABEL: "api-00002-abc"}
    assert body["template"]["containers"][0]["image"] == DESIRED["template"]["containers"][0]["image"]
    assert preview_body(CURRENT, DESIRED, "api", "pr-7")["template"]["revision"] == revision  # same content, name
    changed = json.loads(json.dumps(DESIRED))
    changed["template"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    assert preview_body(CURRENT, changed, "api", "pr-7")["template"]["revision"] != revision
    run_v2.Service.from_json(json.dumps(body), ignore_unknown_fields=False)


def test_a_regular_deploy_gives_pinned_traffic_back_to_the_latest_revision() -> None:
    previewed = preview_body(CURRENT, DESIRED, "api", "pr-7")
    after = updated_body(previewed, DESIRED)
    assert PREVIEW_PIN_LABEL not in after["labels"]
    assert after["traffic"] == [
        {"type": LATEST, "percent": 100},
        {"type": BY_REVISION, "revision": previewed["template"]["revision"], "percent": 0, "tag": "pr-7"},
    ]
    assert "revision" not in after["template"]
    # Without the label (no preview pinned anything), traffic is left as it is.
    assert "traffic" not in updated_body({k: v for k, v in CURRENT.items() if k != "traffic"}, DESIRED)


def test_the_update_mask_names_the_owned_fields_and_traffic_only_when_it_moves() -> None:
    from deployer.gcp.bodies.run import PREVIEW_PIN_LABEL, owned_mask, updated_mask

    desired = {"labels": {}, "template": {"serviceAccount": "a@b", "maxInstanceRequestConcurrency": 80}}
    assert owned_mask(desired) == [
        "labels",
        "template.service_account",
        "template.max_instance_request_concurrency",
        "template.revision",
    ]
    assert "traffic" not in updated_mask({"labels": {}}, desired)
    assert updated_mask({"labels": {PREVIEW_PIN_LABEL: "api-00001"}}, desired)[-1] == "traffic"


def test_a_gpu_body_carries_the_accelerator_one_gpu_and_instance_based_billing() -> None:
    spec = replace(SERVICE, cpu="4", memory="16Gi", gpu_type="nvidia-l4", gpu_zonal_redundancy=False)
    body = service_body(replace(spec, startup_timeout_s=1800))

    # Parsed strictly by the client library: every field name is one run_v2 knows (RevisionTemplate.node_selector,
    # gpu_zonal_redundancy_disabled; ResourceRequirements.limits, cpu_idle; Container.startup_probe).
    service = run_v2.Service.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert service.template.node_selector.accelerator == "nvidia-l4"
    assert service.template.gpu_zonal_redundancy_disabled is True
    container = service.template.containers[0]
    assert dict(container.resources.limits) == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert container.resources.cpu_idle is False
    assert container.startup_probe.tcp_socket.port == 8080
    assert container.startup_probe.failure_threshold * container.startup_probe.period_seconds == 1800


def test_a_cpu_body_keeps_request_based_billing_and_sends_no_gpu_fields() -> None:
    template = service_body(SERVICE)["template"]
    assert "nodeSelector" not in template
    assert "gpuZonalRedundancyDisabled" not in template
    assert "startupProbe" not in template["containers"][0]
    assert template["containers"][0]["resources"]["cpuIdle"] is True
