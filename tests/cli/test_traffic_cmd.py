"""`deployer traffic`, `rollback`, `promote` and `deploy --canary/--to-latest/--diff --exit-code` against the
emulator's Cloud Run, through the real client library; assertions on the service as Google's client reads it back
and on the requests the emulator recorded.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer.gcp.bodies import traffic
from deployer_emulator.testing import EmulatorHandle

REGION = "europe-west4"
IMAGE = "docker.io/library/python:3.12-slim"
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST


def write_config(directory: Path, project: str, greeting: str, **env: str) -> None:
    values = {"GREETING": greeting, **env}
    lines = "\n".join(f'{key} = "{value}"' for key, value in values.items())
    (directory / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{REGION}"\n\n[services.api]\n\n[services.api.env]\n{lines}\n'
    )


def invoke(emulator: EmulatorHandle, directory: Path, *args: str) -> Any:
    env = {"DEPLOYER_EMULATOR_URL": emulator.url, "NO_COLOR": "1", "CI": "1"}
    return CliRunner().invoke(app, [*args, "-C", str(directory)], env=env, catch_exceptions=False)


def deploy(emulator: EmulatorHandle, directory: Path, *extra: str) -> dict[str, Any]:
    result = invoke(emulator, directory, "deploy", "api", "--image", IMAGE, "--yes", "--json", *extra)
    assert result.exit_code == 0, result.stderr + result.stdout
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def live(emulator: EmulatorHandle, project: str) -> run_v2.Service:
    client = run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    return client.get_service(name=f"projects/{project}/locations/{REGION}/services/api")


def routed(service: run_v2.Service) -> list[tuple[str, int]]:
    """(revision, percent) of the traffic as Cloud Run routes it, LATEST resolved."""
    latest = service.latest_ready_revision.rsplit("/", 1)[-1]
    return sorted(
        ((s.revision or latest) if s.type_ != LATEST else latest, s.percent)
        for s in service.traffic_statuses
        if s.percent
    )


@pytest.fixture
def project(tmp_path: Path) -> str:
    name = f"tr-{uuid.uuid4().hex[:10]}"
    write_config(tmp_path, name, "v1")
    return name


# --- pure -------------------------------------------------------------------------------------------------------------


def test_a_canary_scales_what_served_and_keeps_whole_percents() -> None:
    service = {
        "latestReadyRevision": "x/revisions/api-3",
        "trafficStatuses": [
            {"type": traffic.BY_REVISION, "revision": "api-1", "percent": 50},
            {"type": traffic.BY_REVISION, "revision": "api-2", "percent": 50},
        ],
        "traffic": [{"type": traffic.BY_REVISION, "revision": "api-1", "percent": 100}],
    }
    shares = traffic.canary(service, 15)
    assert [(s.latest, s.revision, s.percent) for s in shares] == [
        (True, "", 15),
        (False, "api-1", 43),
        (False, "api-2", 42),
    ]
    assert sum(s.percent for s in shares) == 100


# --- emulator ---------------------------------------------------------------------------------------------------------


def test_canary_then_rollback_then_deploys_report_the_kept_split(
    emulator: EmulatorHandle, tmp_path: Path, project: str
) -> None:
    first = deploy(emulator, tmp_path)
    old = first["revision"]
    assert first["traffic_percent"] == 100

    write_config(tmp_path, project, "v2")
    canary = deploy(emulator, tmp_path, "--canary", "10")
    new = canary["revision"]
    assert new != old
    assert canary["traffic_percent"] == 10
    assert routed(live(emulator, project)) == sorted([(old, 90), (new, 10)])

    back = invoke(emulator, tmp_path, "rollback", "api", "--yes")
    assert back.exit_code == 0, back.stderr + back.stdout
    assert f"→ {old} 100 %" in back.stdout  # the split before → after
    assert routed(live(emulator, project)) == [(old, 100)]

    write_config(tmp_path, project, "v3")
    emulator.mark()
    kept = invoke(emulator, tmp_path, "deploy", "api", "--image", IMAGE, "--yes")
    assert kept.exit_code == 0, kept.stderr + kept.stdout
    assert "keeps that split: the new revision gets 0 %" in kept.stderr
    assert "traffic:  0 % (split kept" in kept.stdout
    assert "serving 100%" not in kept.stderr + kept.stdout  # never claimed when untrue
    (patch,) = [r for r in emulator.mutating_requests() if r["method"] == "PATCH"]
    assert "traffic" not in str(patch["query"].get("updateMask", "")).split(",")
    assert routed(live(emulator, project)) == [(old, 100)]

    write_config(tmp_path, project, "v4")
    restored = deploy(emulator, tmp_path, "--to-latest")
    assert restored["traffic_percent"] == 100
    service = live(emulator, project)
    assert [(s.type_, s.percent) for s in service.traffic] == [(LATEST, 100)]
    write_config(tmp_path, project, "v5")
    assert deploy(emulator, tmp_path)["traffic_percent"] == 100  # normal deploys again


def test_a_split_that_does_not_sum_to_100_is_refused_and_nothing_is_sent(
    emulator: EmulatorHandle, tmp_path: Path, project: str
) -> None:
    revision = deploy(emulator, tmp_path)["revision"]
    emulator.mark()
    result = invoke(emulator, tmp_path, "traffic", "api", "--split", f"{revision}=90,latest=5", "--yes")
    assert result.exit_code == 2
    assert "sum to 95" in result.stderr
    assert emulator.mutating_requests() == []
    unknown = invoke(emulator, tmp_path, "traffic", "api", "--split", "api-99999-zzz=100", "--yes")
    assert unknown.exit_code == 2
    assert "'api-99999-zzz' is not a revision" in unknown.stderr


def test_split_tag_untag_and_show(emulator: EmulatorHandle, tmp_path: Path, project: str) -> None:
    old = deploy(emulator, tmp_path)["revision"]
    write_config(tmp_path, project, "v2")
    new = deploy(emulator, tmp_path)["revision"]

    emulator.mark()
    moved = invoke(
        emulator, tmp_path, "traffic", "api", "--split", f"{old}=70,latest=30", "--tag", f"{old}=blue", "--yes"
    )
    assert moved.exit_code == 0, moved.stderr + moved.stdout
    (patch,) = emulator.mutating_requests()
    assert patch["query"]["updateMask"] == "traffic"  # only traffic: no new revision, nothing else touched
    service = live(emulator, project)
    assert routed(service) == sorted([(old, 70), (new, 30)])
    blue = next(s for s in service.traffic_statuses if s.tag == "blue")
    assert blue.uri
    assert blue.uri in moved.stdout

    shown = invoke(emulator, tmp_path, "traffic", "api", "--json")
    doc = json.loads(shown.stdout)
    assert doc["changed"] is False
    assert {(s["revision"], s["percent"]) for s in doc["after"]} >= {(old, 70), (new, 30)}

    status = invoke(emulator, tmp_path, "status", "api", "--json")
    shown_status = {(s["revision"], s["percent"], s["tag"], s["url"]) for s in json.loads(status.stdout)["traffic"]}
    assert shown_status == {(old, 70, "blue", blue.uri), (new, 30, None, None)}
    untagged = invoke(emulator, tmp_path, "traffic", "api", "--untag", "blue", "--yes")
    assert untagged.exit_code == 0, untagged.stderr
    assert not [s for s in live(emulator, project).traffic_statuses if s.tag]


def test_promote_moves_the_canary_to_100_in_steps(emulator: EmulatorHandle, tmp_path: Path, project: str) -> None:
    old = deploy(emulator, tmp_path)["revision"]
    write_config(tmp_path, project, "v2")
    new = deploy(emulator, tmp_path, "--canary", "10")["revision"]
    emulator.mark()
    result = invoke(emulator, tmp_path, "promote", "api", "--steps", "50,100", "--interval", "0s", "--yes")
    assert result.exit_code == 0, result.stderr + result.stdout
    patches = [r for r in emulator.mutating_requests() if r["method"] == "PATCH"]
    assert len(patches) == 2
    service = live(emulator, project)
    assert routed(service) == [(new, 100)]
    assert [(s.type_, s.percent) for s in service.traffic] == [(LATEST, 100)]
    assert old != new


def test_diff_exit_code_is_0_unchanged_and_1_with_the_values_shown(
    emulator: EmulatorHandle, tmp_path: Path, project: str
) -> None:
    write_config(tmp_path, project, "hi", API_KEY="first-secret-value")
    deploy(emulator, tmp_path)
    emulator.mark()
    same = invoke(emulator, tmp_path, "deploy", "api", "--image", IMAGE, "--diff", "--exit-code")
    assert same.exit_code == 0, same.stderr + same.stdout
    write_config(tmp_path, project, "hello", API_KEY="second-secret-value")
    changed = invoke(emulator, tmp_path, "deploy", "api", "--image", IMAGE, "--diff", "--exit-code")
    assert changed.exit_code == 1, changed.stderr + changed.stdout
    assert 'env.GREETING: "hi" → "hello"' in changed.stdout
    assert "env.API_KEY: ******** → ********" in changed.stdout
    assert "secret-value" not in changed.stdout + changed.stderr
    assert emulator.mutating_requests() == []  # --exit-code applies nothing
    write_config(tmp_path, f"tr-{uuid.uuid4().hex[:10]}", "hi")  # no service there yet: a canary is an error
    refused = invoke(emulator, tmp_path, "deploy", "api", "--image", IMAGE, "--canary", "5", "--diff", "--exit-code")
    assert refused.exit_code == 2, refused.stderr


# --- containers -------------------------------------------------------------------------------------------------------

SAMPLE_APP = Path(__file__).resolve().parents[2] / "deployer" / "sample_app"


@pytest.mark.containers
def test_a_90_10_split_serves_each_revision_its_share(engine_emulator: EmulatorHandle, tmp_path: Path) -> None:
    """Two revisions of the sample app that answer different greetings, 1000 requests to the service URL."""
    import shutil

    import requests

    directory = tmp_path / "sample"
    shutil.copytree(SAMPLE_APP, directory)
    config = directory / "deployer.toml"
    # A project of its own: the engine emulator is shared, and the demo's own tests deploy the same sample there.
    config.write_text(config.read_text().replace('"deployer-demo"', f'"split-{uuid.uuid4().hex[:8]}"'))
    first = invoke(engine_emulator, directory, "deploy", "--json")
    assert first.exit_code == 0, first.stderr
    old = json.loads(first.stdout)
    config.write_text(config.read_text().replace("hello from the demo", "hello from the canary"))
    second = invoke(engine_emulator, directory, "deploy", "--json")
    assert second.exit_code == 0, second.stderr
    new = json.loads(second.stdout)
    assert new["revision"] != old["revision"]

    moved = invoke(
        engine_emulator, directory, "traffic", "hello", "--split", f"{old['revision']}=90,latest=10", "--yes"
    )
    assert moved.exit_code == 0, moved.stderr + moved.stdout
    answers = [requests.get(old["url"], timeout=30).json() for _ in range(1000)]
    greetings = {a["revision"]: a["greeting"] for a in answers}
    assert greetings == {old["revision"]: "hello from the demo", new["revision"]: "hello from the canary"}
    old_share = sum(1 for a in answers if a["revision"] == old["revision"]) / 10
    new_share = sum(1 for a in answers if a["revision"] == new["revision"]) / 10
    print(f"90/10 split over 1000 requests: {old_share} % / {new_share} %")
    assert abs(old_share - 90) <= 3
    assert abs(new_share - 10) <= 3
    assert old_share + new_share == 100


def test_a_dry_run_has_cloud_run_check_the_split_and_changes_nothing(
    emulator: EmulatorHandle, tmp_path: Path, project: str
) -> None:
    revision = deploy(emulator, tmp_path)["revision"]
    before = live(emulator, project)
    emulator.mark()
    dry = invoke(emulator, tmp_path, "traffic", "api", "--split", f"{revision}=100", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["dry_run"] is True
    assert doc["steps"][0]["request"]["body"]["traffic"] == [
        {"type": traffic.BY_REVISION, "revision": revision, "percent": 100}
    ]
    (check,) = [r for r in emulator.requests() if r["method"] == "PATCH"]
    assert check["query"]["validateOnly"] == "true"
    assert live(emulator, project).traffic == before.traffic
    bad = invoke(emulator, tmp_path, "promote", "api", "--steps", "50,20", "--yes")
    assert bad.exit_code == 2
    assert "increasing, ending at 100" in bad.stderr


def test_promote_rolls_back_when_the_new_revision_stops_being_ready(
    emulator: EmulatorHandle, tmp_path: Path, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ready revision that later fails its Ready condition is something the emulator never produces: the revisions
    read after the first step's wait report it failed (the rest of the flow is the emulator's)."""
    from deployer.gcp.run import CloudRunAdapter

    old = deploy(emulator, tmp_path)["revision"]
    write_config(tmp_path, project, "v2")
    new = deploy(emulator, tmp_path, "--canary", "10")["revision"]
    real = CloudRunAdapter.list_revisions
    calls: list[int] = []

    def revisions_failing_later(self: CloudRunAdapter, service: str) -> list[dict[str, Any]]:
        docs = real(self, service)
        calls.append(1)
        if len(calls) > 1:
            for doc in docs:
                if doc["name"].endswith(new):
                    doc["conditions"] = [{"type": "Ready", "state": "CONDITION_FAILED", "message": "crashing"}]
        return docs

    monkeypatch.setattr(CloudRunAdapter, "list_revisions", revisions_failing_later)
    emulator.mark()
    result = invoke(emulator, tmp_path, "promote", "api", "--steps", "50,100", "--interval", "0s", "--yes")
    assert result.exit_code == 1
    assert f"promote of {new} stopped at 50 %" in result.stderr
    assert len([r for r in emulator.mutating_requests() if r["method"] == "PATCH"]) == 2  # 50 %, then back
    assert routed(live(emulator, project)) == sorted([(old, 90), (new, 10)])  # back where it was
