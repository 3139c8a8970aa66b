"""Emulator tier: `deployer build` and `deployer deploy` through the CLI, against a real emulator process.

Assertions are on what the emulator recorded (requests, resulting state), and on the CLI's documented output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2, storage
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer_emulator.testing import EmulatorHandle
from tests.projects import REGION, invoke, write_project


def make_project(directory: Path, *, project: str | None = None, extra: str = "", public: bool = True) -> str:
    """A small project: a Dockerfile, an app file and a deployer.toml for one service named api."""
    return write_project(directory, f"[services.api]\npublic = {str(public).lower()}\n{extra}", project=project)


def deploy_json(emulator: EmulatorHandle, directory: Path, *extra: str) -> dict[str, Any]:
    result = invoke(emulator, "deploy", "-C", str(directory), "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def deploy_then_set_an_env_value(emulator: EmulatorHandle, directory: Path) -> dict[str, Any]:
    """Deploys, then adds an env value to deployer.toml and marks the emulator's log: the next deploy is an update."""
    first = deploy_json(emulator, directory)
    toml = directory / "deployer.toml"
    toml.write_text(toml.read_text() + 'env = { MODE = "fast" }\n')
    emulator.mark()
    return first


def posts(requests: list[dict[str, Any]]) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in requests if r["mutating"]]


def test_first_deploy_builds_pushes_and_creates_the_service(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = make_project(tmp_path / "app")
    emulator.mark()
    doc = deploy_json(emulator, tmp_path / "app")

    assert doc["service"] == "api"
    assert doc["url"].startswith("http://127.0.0.1:")
    assert doc["digest"].startswith("sha256:")
    assert doc["image"] == f"{REGION}-docker.pkg.dev/{project}/deployer/api"
    assert doc["revision"].startswith("api-00001-")
    assert doc["build"]["reused"] is False
    actions = [step["action"] for step in doc["steps"]]
    assert actions == ["create", "upload", "create", "build", "create", "update"]

    mutating = posts(emulator.requests())
    assert mutating[0] == "POST /storage/v1/b"
    assert mutating[1] == f"POST /upload/storage/v1/b/{project}_{REGION}_cloudbuild/o"
    assert f"POST /v1/projects/{project}/locations/{REGION}/repositories" in mutating
    assert f"POST /v1/projects/{project}/locations/{REGION}/builds" in mutating
    assert f"POST /v2/projects/{project}/locations/{REGION}/services" in mutating
    assert f"POST /v2/projects/{project}/locations/{REGION}/services/api:setIamPolicy" in mutating

    # The service really is what the config says, as Google's client library reads it back.
    client = run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    service = client.get_service(name=f"projects/{project}/locations/{REGION}/services/api")
    container = service.template.containers[0]
    assert container.image == f"{doc['image']}@{doc['digest']}"
    assert container.resources.cpu_idle is True
    assert container.ports[0].container_port == 8080
    policy = client.get_iam_policy(request={"resource": service.name})
    assert any(b.role == "roles/run.invoker" and "allUsers" in b.members for b in policy.bindings)


def test_second_identical_deploy_starts_no_build_and_mutates_nothing(emulator: EmulatorHandle, tmp_path: Path) -> None:
    make_project(tmp_path / "app")
    first = deploy_json(emulator, tmp_path / "app")
    emulator.mark()
    second = deploy_json(emulator, tmp_path / "app")

    assert emulator.mutating_requests() == []
    assert second["changed"] is False
    assert all(step["action"] == "noop" for step in second["steps"])
    assert second["build"]["reused"] is True
    assert (second["url"], second["digest"], second["revision"]) == (first["url"], first["digest"], first["revision"])


def test_config_change_updates_the_service_without_a_build(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    deploy_then_set_an_env_value(emulator, directory)
    doc = deploy_json(emulator, directory)

    assert posts(emulator.requests()) == [f"PATCH /v2/projects/{project}/locations/{REGION}/services/api"]
    update = next(step for step in doc["steps"] if step["action"] == "update")
    assert "env" in update["summary"]
    assert doc["revision"].startswith("api-00002-")


def test_code_change_rebuilds_and_reuses_bucket_and_repository(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    first = deploy_json(emulator, directory)
    (directory / "app.py").write_text("print('hello again')\n")
    emulator.mark()
    second = deploy_json(emulator, directory)

    mutating = posts(emulator.requests())
    assert mutating[0] == f"POST /upload/storage/v1/b/{project}_{REGION}_cloudbuild/o"
    assert f"POST /v1/projects/{project}/locations/{REGION}/builds" in mutating
    assert f"POST /v1/projects/{project}/locations/{REGION}/repositories" not in mutating
    assert "POST /storage/v1/b" not in mutating
    assert second["build"]["tag"] != first["build"]["tag"]
    assert second["url"] == first["url"]


def test_dry_run_prints_the_plan_with_requests_and_sends_nothing(emulator: EmulatorHandle, tmp_path: Path) -> None:
    project = make_project(tmp_path / "app")
    emulator.mark()
    doc = deploy_json(emulator, tmp_path / "app", "--dry-run")

    # Nothing mutates: Cloud Run's own check of the create (validate_only) is logged as the read it is.
    assert emulator.mutating_requests() == []
    checked = [r for r in emulator.requests() if r["query"].get("validateOnly") == "true"]
    assert [(r["method"], r["path"], r["mutating"]) for r in checked] == [
        ("POST", f"/v2/projects/{project}/locations/{REGION}/services", False)
    ]
    assert run_client(emulator).list_services(parent=f"projects/{project}/locations/{REGION}").services == []
    assert doc["dry_run"] is True
    build_step = next(step for step in doc["steps"] if step["action"] == "build")
    assert build_step["request"]["url"] == f"/v1/projects/{project}/locations/{REGION}/builds"
    assert build_step["request"]["body"]["steps"][0]["name"] == "gcr.io/cloud-builders/docker"
    create = next(step for step in doc["steps"] if step["resource"].endswith("/services/api"))
    assert create["action"] == "create"
    assert create["request"]["body"]["template"]["containers"][0]["resources"]["cpuIdle"] is True

    text = invoke(emulator, "deploy", "-C", str(tmp_path / "app"), "--dry-run")
    assert text.exit_code == 0
    assert "+ create  " in text.stdout
    assert "POST /v2/projects/" in text.stdout
    assert emulator.mutating_requests() == []
    assert run_client(emulator).list_services(parent=f"projects/{project}/locations/{REGION}").services == []


def run_client(emulator: EmulatorHandle) -> Any:
    return run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def test_an_update_sends_an_update_mask_of_the_owned_fields_only(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    deploy_then_set_an_env_value(emulator, directory)
    deploy_json(emulator, directory)
    (patch,) = [r for r in emulator.mutating_requests() if r["method"] == "PATCH"]
    assert patch["path"] == f"/v2/projects/{project}/locations/{REGION}/services/api"
    assert "validateOnly" not in patch["query"] or patch["query"]["validateOnly"] != "true"
    mask = set(patch["query"]["updateMask"].split(","))
    assert mask == {
        "labels",
        "template.scaling",
        "template.maxInstanceRequestConcurrency",
        "template.timeout",
        "template.containers",
        "template.revision",
    }


def test_a_dry_run_update_is_checked_by_the_server_and_changes_nothing(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    first = deploy_then_set_an_env_value(emulator, directory)
    dry = deploy_json(emulator, directory, "--dry-run")
    assert emulator.mutating_requests() == []
    (patch,) = [r for r in emulator.requests() if r["method"] == "PATCH"]
    assert (patch["query"]["validateOnly"], patch["mutating"]) == ("true", False)
    assert "template.containers" in patch["query"]["updateMask"].split(",")
    step = next(s for s in dry["steps"] if s["action"] == "update")
    assert "updateMask=" in step["request"]["url"]
    service = run_client(emulator).get_service(name=f"projects/{project}/locations/{REGION}/services/api")
    assert service.latest_ready_revision.rsplit("/", 1)[-1] == first["revision"]
    assert [e.name for e in service.template.containers[0].env] == []


def test_a_dry_run_the_server_refuses_fails_with_its_reason(emulator: EmulatorHandle, tmp_path: Path) -> None:
    # Cloud Run pulls only from its registries (gcr.io, docker.pkg.dev, docker.io): the server's check says so.
    directory = tmp_path / "app"
    project = make_project(directory)
    result = invoke(emulator, "deploy", "-C", str(directory), "--dry-run", "--image", "quay.io/someone/api:1.0")
    assert result.exit_code == 1, result.stderr
    assert "validate_only" in result.stderr
    assert run_client(emulator).list_services(parent=f"projects/{project}/locations/{REGION}").services == []


def test_dockerignored_data_folder_is_not_uploaded(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    (directory / "data").mkdir()
    with (directory / "data" / "train.bin").open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    (directory / ".dockerignore").write_text("data/\n")
    result = invoke(emulator, "build", "-C", str(directory), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["context"]["ignore_file"] == ".dockerignore"
    assert doc["reference"].startswith(f"{REGION}-docker.pkg.dev/{project}/deployer/api@sha256:")

    client = storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.url}
    )
    uploads = list(client.list_blobs(f"{project}_{REGION}_cloudbuild", prefix="source/"))
    assert len(uploads) == 1
    assert uploads[0].size < 100_000  # the 100 MB folder stayed home


def test_build_prints_image_at_digest_and_skips_when_built(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    first = invoke(emulator, "build", "-C", str(directory))
    assert first.exit_code == 0, first.stderr
    reference = first.stdout.strip()
    assert reference.startswith(f"{REGION}-docker.pkg.dev/{project}/deployer/api@sha256:")
    assert "logs at" in first.stderr
    emulator.mark()
    second = invoke(emulator, "build", "-C", str(directory))
    assert second.stdout.strip() == reference
    assert "build skipped" in second.stderr
    assert emulator.mutating_requests() == []


def test_failed_revision_leaves_traffic_where_it_was(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    good = deploy_json(emulator, directory)
    missing = f"{REGION}-docker.pkg.dev/{project}/deployer/api@sha256:{'0' * 64}"
    result = invoke(emulator, "deploy", "-C", str(directory), "--image", missing)

    assert result.exit_code == 1
    assert f"traffic stays on {good['revision']}" in result.stderr
    assert "not found" in result.stderr
    assert "fix:" in result.stderr
    client = run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    service = client.get_service(name=f"projects/{project}/locations/{REGION}/services/api")
    assert service.latest_ready_revision.endswith(good["revision"])
    assert service.latest_created_revision != service.latest_ready_revision
    assert [t.percent for t in service.traffic_statuses] == [100]


def test_misspelt_key_exits_2_naming_key_and_file(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    make_project(directory, extra='memmory = "1Gi"\n')
    emulator.mark()
    result = invoke(emulator, "deploy", "-C", str(directory))
    assert result.exit_code == 2
    assert "deployer.toml" in result.stderr
    assert "services.api.memmory" in result.stderr
    assert 'did you mean "memory"' in result.stderr
    assert emulator.requests() == []


def test_credential_file_is_refused_before_anything_is_sent(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    make_project(directory)
    (directory / ".env").write_text("API_TOKEN=abc123secretvalue\n")
    emulator.mark()
    result = invoke(emulator, "deploy", "-C", str(directory))
    assert result.exit_code == 2
    assert ".env" in result.stderr
    assert "abc123secretvalue" not in result.stderr + result.stdout
    assert emulator.requests() == []
    allowed = invoke(emulator, "build", "-C", str(directory), "--allow-credential-file", ".env", "--dry-run")
    assert allowed.exit_code == 0, allowed.stderr


def test_api_not_enabled_becomes_the_enable_command(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    emulator.add_fault(
        path_regex=f"^/v1/projects/{project}/locations/{REGION}/repositories/",
        status=403,
        message=f"Artifact Registry API has not been used in project {project} before or it is disabled.",
        reason="SERVICE_DISABLED",
        metadata={"service": "artifactregistry.googleapis.com", "consumer": f"projects/{project}"},
        times=-1,
    )
    try:
        result = invoke(emulator, "deploy", "-C", str(directory), "--json")
    finally:
        emulator.clear_faults()
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert "artifactregistry.googleapis.com is not enabled" in error["message"]
    assert error["hint"].startswith(f"gcloud services enable artifactregistry.googleapis.com --project {project}")


def test_permission_denied_names_the_permission_and_a_role(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    emulator.add_fault(
        path_regex=f"^/v2/projects/{project}/locations/{REGION}/services/api$",
        method="GET",
        status=403,
        message="Permission 'run.services.get' denied on resource (or it may not exist).",
        reason="IAM_PERMISSION_DENIED",
        metadata={"permission": "run.services.get"},
    )
    try:
        result = invoke(emulator, "deploy", "-C", str(directory))
    finally:
        emulator.clear_faults()
    assert result.exit_code == 1
    assert "lacks the permission run.services.get" in result.stderr
    assert "roles/run.viewer" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--project", "--region"])
def test_bad_flag_value_exits_2(emulator: EmulatorHandle, tmp_path: Path, flag: str) -> None:
    make_project(tmp_path / "app")
    result = invoke(emulator, "deploy", "-C", str(tmp_path / "app"), flag, "Not_Valid!")
    assert result.exit_code == 2
    assert "Not_Valid!" in result.stderr


def test_diff_shows_the_changes_and_needs_yes_without_a_terminal(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    make_project(directory)
    emulator.mark()
    refused = invoke(emulator, "deploy", "-C", str(directory), "--diff")
    assert refused.exit_code == 2
    assert "+ create  " in refused.stdout
    assert "pass --yes" in refused.stderr
    assert emulator.mutating_requests() == []

    applied = invoke(emulator, "deploy", "-C", str(directory), "--diff", "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert "Service api: http://127.0.0.1:" in applied.stdout
    assert emulator.mutating_requests() != []


def test_diff_with_json_asks_too_and_keeps_stdout_for_the_document(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    make_project(directory)
    emulator.mark()
    refused = invoke(emulator, "deploy", "-C", str(directory), "--diff", "--json")
    assert refused.exit_code == 2
    assert "+ create  " in refused.stderr
    assert json.loads(refused.stdout)["error"]["exit_code"] == 2
    assert emulator.mutating_requests() == []

    applied = invoke(emulator, "deploy", "-C", str(directory), "--diff", "--json", "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert json.loads(applied.stdout)["changed"] is True


def test_config_show_names_where_each_value_came_from(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    result = CliRunner().invoke(
        app,
        ["config", "show", "-C", str(directory), "--json", "--region", "us-central1"],
        env={"DEPLOYER_REPOSITORY": "images", "CLOUDSDK_CONFIG": str(tmp_path / "no-gcloud")},
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["project"]["value"] == project
    assert doc["project"]["source"] == "file"
    assert doc["region"] == {"value": "us-central1", "source": "flag", "detail": "--region"}
    assert doc["repository"]["value"] == "images"
    assert doc["repository"]["source"] == "env"
    assert doc["services"]["api"]["public"] is True


def test_unreadable_build_log_does_not_fail_a_good_build(emulator: EmulatorHandle, tmp_path: Path) -> None:
    """gcloud exits non-zero when it may not stream the log of a build that succeeded; deployer does not."""
    directory = tmp_path / "app"
    project = make_project(directory)
    emulator.add_fault(
        path_regex=r"cloudbuild-logs\.googleusercontent\.com/o/log-",
        status=403,
        message="caller does not have storage.objects.get access to the Google Cloud Storage object.",
        times=-1,
    )
    try:
        result = invoke(emulator, "build", "-C", str(directory))
    finally:
        emulator.clear_faults()
    assert result.exit_code == 0, result.stderr
    assert "cannot read the build log" in result.stderr
    assert result.stdout.strip().startswith(f"{REGION}-docker.pkg.dev/{project}/deployer/api@sha256:")


@pytest.mark.parametrize("command", ["deploy", "build"])
@pytest.mark.parametrize("value", ["0", "-5"])
def test_an_out_of_range_context_limit_is_refused_and_nothing_is_sent(
    emulator: EmulatorHandle, tmp_path: Path, command: str, value: str
) -> None:
    make_project(tmp_path / "app")
    emulator.mark()
    result = invoke(emulator, command, "-C", str(tmp_path / "app"), "--max-context-mb", value)
    assert result.exit_code == 2
    assert "--max-context-mb" in result.stderr
    assert f"{value} is not allowed: it is a whole number of MB, at least 1" in result.stderr
    assert emulator.requests() == []


def test_an_unchanged_redeploy_makes_at_most_six_calls_and_no_readiness_checks(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "app")
    deploy_json(emulator, tmp_path / "app")
    emulator.mark()
    doc = deploy_json(emulator, tmp_path / "app")
    assert doc["changed"] is False
    calls = [f"{r['method']} {r['path']}" for r in emulator.requests()]
    assert len(calls) <= 6, calls
    assert len(set(calls)) == len(calls), "a read was made twice"
    assert not any(r["mutating"] for r in emulator.requests())
    # Doctor's reads (project, billing, APIs, permissions) are for deploys that change something.
    assert f"GET /v3/projects/{project}" not in calls
    assert f"POST /v3/projects/{project}:testIamPermissions" not in calls

    emulator.mark()
    checked = invoke(emulator, "deploy", "-C", str(tmp_path / "app"), "--json", "--check")
    assert checked.exit_code == 0, checked.stderr
    calls = [f"{r['method']} {r['path']}" for r in emulator.requests()]
    assert f"GET /v3/projects/{project}" in calls
    assert f"POST /v3/projects/{project}:testIamPermissions" in calls
    assert len(set(calls)) == len(calls), "a read was made twice"


def test_a_first_deploy_reads_nothing_twice(emulator: EmulatorHandle, tmp_path: Path) -> None:
    make_project(tmp_path / "app")
    emulator.mark()
    deploy_json(emulator, tmp_path / "app")
    reads = [f"{r['method']} {r['path']}" for r in emulator.requests() if not r["mutating"]]
    # Polling a build or an operation repeats on purpose; every other read is made once.
    once = [r for r in reads if "/operations/" not in r and "/builds/" not in r and "/download/" not in r]
    assert len(set(once)) == len(once), once
