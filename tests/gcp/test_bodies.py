"""Pure tier: the request bodies deployer sends, as values, and parsed strictly by the client libraries' types."""

from __future__ import annotations

import json

from google.cloud import run_v2
from google.cloud.devtools import cloudbuild_v1

from deployer.gcp.bodies import (
    BuildSpec,
    ServiceSpec,
    build_body,
    image_name,
    merge_owned,
    owned_differences,
    repository_body,
    service_body,
    source_bucket_name,
    with_public_access,
)

SPEC = BuildSpec(
    bucket="my-proj_cloudbuild",
    object="source/abc.tgz",
    generation=1700000000000001,
    dockerfile="docker/Dockerfile",
    image="europe-west4-docker.pkg.dev/my-proj/deployer/api",
    tags=("src-0123456789abcdef01234567", "git-0123456789ab"),
    timeout_s=1200,
    service="api",
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


def test_source_bucket_is_named_as_gcloud_names_it() -> None:
    assert source_bucket_name("my-proj") == "my-proj_cloudbuild"
    assert source_bucket_name("example.com:my-google-proj") == "example_com_my-elgoog-proj_cloudbuild"


def test_image_name_for_domain_scoped_project() -> None:
    assert image_name("example.com:proj", "us-central1", "deployer", "api") == (
        "us-central1-docker.pkg.dev/example.com/proj/deployer/api"
    )


def test_build_body_builds_the_dockerfile_with_every_tag_and_registry_cache() -> None:
    body = build_body(SPEC)
    image = SPEC.image
    assert body["source"] == {
        "storageSource": {"bucket": "my-proj_cloudbuild", "object": "source/abc.tgz", "generation": "1700000000000001"}
    }
    # cloudbuild.yaml's build and push steps; its deploy step is for hand use (deployer deploys through the API).
    assert body["steps"] == [
        {
            "id": "build",
            "name": "gcr.io/cloud-builders/docker",
            "args": [
                "build",
                "-f",
                "docker/Dockerfile",
                "-t",
                f"{image}:src-0123456789abcdef01234567",
                "-t",
                f"{image}:git-0123456789ab",
                "-t",
                f"{image}:latest",
                "--cache-from",
                f"{image}:latest",
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1",
                ".",
            ],
            "env": ["DOCKER_BUILDKIT=1"],
        },
        {
            "id": "push",
            "name": "gcr.io/cloud-builders/docker",
            "args": ["push", f"{image}:src-0123456789abcdef01234567"],
        },
    ]
    assert body["images"] == [
        f"{image}:src-0123456789abcdef01234567",
        f"{image}:git-0123456789ab",
        f"{image}:latest",
    ]
    assert body["timeout"] == "1200s"
    assert body["tags"] == ["deployer", "deployer-api"]
    assert "options" not in body


def test_build_body_parses_strictly_as_a_cloud_build_build() -> None:
    build = cloudbuild_v1.Build.from_json(json.dumps(build_body(SPEC)), ignore_unknown_fields=False)
    assert build.source.storage_source.generation == 1700000000000001
    assert build.timeout.total_seconds() == 1200


def test_machine_type_becomes_an_option() -> None:
    spec = BuildSpec(**{**SPEC.__dict__, "machine_type": "E2_HIGHCPU_8"})
    body = build_body(spec)
    assert body["options"] == {"machineType": "E2_HIGHCPU_8"}
    build = cloudbuild_v1.Build.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert build.options.machine_type == cloudbuild_v1.BuildOptions.MachineType.E2_HIGHCPU_8


def test_repository_body_is_a_docker_repository() -> None:
    assert repository_body()["format"] == "DOCKER"


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
