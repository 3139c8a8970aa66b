"""Running revisions (run/runtime.py, run/proxy.py): images from Artifact Registry; with an engine, the app served."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import run_v2
from run_support import (
    BY_REVISION,
    FAILED,
    LATEST,
    LOCATION,
    REVISION_RE,
    SUCCEEDED,
    create,
    revisions_client,
    service_body,
    services_client,
    short,
)

from deployer_emulator.testing import EmulatorProcess

AR_PROJECT = "run-ar-tests"


AR_REPO = "apps"


AR_PARENT = f"projects/{AR_PROJECT}/locations/{LOCATION}"


AR_HOST = f"{LOCATION}-docker.pkg.dev/{AR_PROJECT}/{AR_REPO}"


def seed_registry(state_dir: Path, images: list[tuple[str, str, bool, str | None]]) -> None:
    """Create the repository through Artifact Registry's own handler and record (image, tag, executable, local id)."""
    from deployer_emulator import artifactregistry
    from deployer_emulator.core import Request
    from deployer_emulator.server import build_emulator

    seeded = build_emulator(state_dir=state_dir, engine=None)
    path = f"/v1/{AR_PARENT}/repositories"
    handler, params = seeded.router.match("POST", path)
    body = json.dumps({"format": "DOCKER"}).encode()
    operation = handler(Request("POST", path, {"repositoryId": [AR_REPO]}, {}, body, "user:seed@example.com"), **params)
    seeded.wait_operation(operation["name"], 10)
    for index, (image, tag, executable, local_id) in enumerate(images):
        digest = "sha256:" + f"{index:x}" * 64
        artifactregistry.record_image(
            seeded, AR_PROJECT, LOCATION, AR_REPO, image, [tag], digest, 1000, executable, local_id
        )
    seeded.state.save()
    seeded.close()


class Process:
    def __init__(self, process: EmulatorProcess) -> None:
        self.process = process
        self.url = process.url


@pytest.fixture(scope="module")
def seeded_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    state_dir = tmp_path_factory.mktemp("run-seeded") / "state"
    seed_registry(state_dir, [("built", "v1", False, None)])
    process = EmulatorProcess(state_dir=state_dir, env={"DEPLOYER_EMULATOR_ENGINE": "none"}).start()
    try:
        yield Process(process)
    finally:
        process.stop()


def test_an_image_in_artifact_registry_deploys_without_an_engine(seeded_emulator: Process) -> None:
    service = create(seeded_emulator.url, "from-registry", f"{AR_HOST}/built:v1", parent=AR_PARENT)

    assert service.terminal_condition.state == SUCCEEDED
    assert service.uri == f"{seeded_emulator.url}/_emulator/run/{AR_PROJECT}/{LOCATION}/from-registry"
    answer = requests.get(service.uri, timeout=10)
    assert answer.status_code == 503
    assert f"its image ({AR_HOST}/built:v1) was not run" in answer.text


def test_a_tag_missing_from_the_repository_fails(seeded_emulator: Process) -> None:
    client = services_client(seeded_emulator.url)
    operation = client.create_service(
        parent=AR_PARENT, service_id="wrong-tag", service=service_body(f"{AR_HOST}/built:v2")
    )

    with pytest.raises(gexc.InternalServerError) as failure:
        operation.result(timeout=60)

    assert failure.value.message.endswith(f"Image '{AR_HOST}/built:v2' not found.")


APP = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{os.environ['K_REVISION']} says {os.environ.get('GREETING', 'hello')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""


APP_IMAGE = "docker.io/deployer-tests/run-app:v1"  # a local tag: the emulator runs what the engine has


def engine_binary() -> str:
    from deployer_emulator.engine import detect_engine

    engine = detect_engine()
    assert engine is not None
    return engine.binary


@pytest.fixture(scope="module")
def app_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny HTTP app on the local stand-in for python:3.12-slim; its engine image id."""
    context = tmp_path_factory.mktemp("run-app")
    (context / "app.py").write_text(APP)
    (context / "Dockerfile").write_text(
        'FROM docker.io/library/python:3.12-slim\nCOPY app.py /app.py\nCMD ["python3", "-u", "/app.py"]\n'
    )
    binary = engine_binary()
    subprocess.run([binary, "build", "-q", "-t", APP_IMAGE, str(context)], check=True, capture_output=True)
    image_id = subprocess.run(
        [binary, "image", "inspect", "--format", "{{.Id}}", APP_IMAGE], check=True, capture_output=True, text=True
    ).stdout.strip()
    yield image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"
    subprocess.run([binary, "rmi", "-f", APP_IMAGE], capture_output=True, check=False)


def containers_named(prefix: str) -> list[str]:
    listed = subprocess.run(
        [engine_binary(), "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    )
    return [n for n in listed.stdout.split() if n.startswith(prefix)]


@pytest.mark.containers
def test_engine_serves_the_app_at_a_uri_that_survives_updates(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    first = client.create_service(parent=parent, service_id="web", service=service_body(APP_IMAGE)).result(timeout=90)
    first_revision = short(first.latest_ready_revision)

    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first.uri)
    assert requests.get(first.uri, timeout=10).text == f"{first_revision} says hello"

    first.template.containers[0].env = [run_v2.EnvVar(name="GREETING", value="bonjour")]
    second = client.update_service(service=first).result(timeout=90)
    second_revision = short(second.latest_ready_revision)

    assert second.uri == first.uri
    assert re.fullmatch(REVISION_RE.format(service="web", n=2), second_revision)
    assert requests.get(second.uri, timeout=10).text == f"{second_revision} says bonjour"

    second.template.containers[0].command = ["sh", "-c", "echo about to fail; exit 3"]
    with pytest.raises(gexc.FailedPrecondition) as failure:
        client.update_service(service=second).result(timeout=90)

    after = client.get_service(name=first.name)
    failed_revision = short(after.latest_created_revision)
    assert failure.value.message == (
        f"Revision '{failed_revision}' is not ready and cannot serve traffic. The user-provided container failed to "
        "start and listen on the port defined provided by the PORT=8080 environment variable within the allocated "
        "timeout. This can happen when the container port is misconfigured or if the timeout is too short. The "
        "health check timeout can be extended. Logs for this revision might contain more information."
    )
    assert after.latest_ready_revision == second.latest_ready_revision
    assert requests.get(after.uri, timeout=10).text == f"{second_revision} says bonjour"
    revision = revisions_client(engine_emulator.url).get_revision(name=after.latest_created_revision)
    healthy = revision.conditions[1]
    assert (healthy.type_, healthy.state, healthy.revision_reason.name) == (
        "ContainerHealthy",
        FAILED,
        "HEALTH_CHECK_CONTAINER_ERROR",
    )
    assert "The container exited with code 3. Last lines of its log:\nabout to fail" in healthy.message
    assert requests.get(revision.log_uri, timeout=10).text == "about to fail\n"
    assert containers_named(f"deployer-emu-run-engine-web-{failed_revision}") == []

    client.delete_service(name=first.name).result(timeout=60)
    assert containers_named("deployer-emu-run-engine-web-") == []
    with pytest.raises(requests.ConnectionError):
        requests.get(first.uri, timeout=5)


@pytest.mark.containers
def test_engine_splits_traffic_and_serves_tags(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    body = service_body(APP_IMAGE, container={"ports": [run_v2.ContainerPort(container_port=9000)]})
    first = client.create_service(parent=parent, service_id="ab", service=body).result(timeout=90)
    assert requests.get(first.uri, timeout=10).status_code == 200  # the app listens on $PORT, here 9000
    first.template.containers[0].env = [run_v2.EnvVar(name="GREETING", value="b")]
    second = client.update_service(service=first).result(timeout=90)
    a, b = short(first.latest_ready_revision), short(second.latest_ready_revision)
    second.traffic = [
        run_v2.TrafficTarget(type_=BY_REVISION, revision=a, percent=50, tag="blue"),
        run_v2.TrafficTarget(type_=BY_REVISION, revision=b, percent=50),
    ]

    split = client.update_service(service=second).result(timeout=90)

    answers = Counter(requests.get(split.uri, timeout=10).text for _ in range(40))
    assert set(answers) == {f"{a} says hello", f"{b} says b"}
    (blue,) = [s for s in split.traffic_statuses if s.tag == "blue"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", blue.uri)
    assert blue.uri != split.uri
    assert {requests.get(blue.uri, timeout=10).text for _ in range(5)} == {f"{a} says hello"}
    client.delete_service(name=first.name).result(timeout=60)
    assert containers_named("deployer-emu-run-engine-ab-") == []


@pytest.mark.containers
def test_engine_removes_a_revision_that_no_longer_receives_traffic(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    first = client.create_service(parent=parent, service_id="idle", service=service_body(APP_IMAGE)).result(timeout=90)
    old = f"deployer-emu-run-engine-idle-{short(first.latest_ready_revision)}"
    assert containers_named(old) == [old]
    engine_emulator.settings(run_idle_revision_remove_s=0.5)
    try:
        first.template.containers[0].env = [run_v2.EnvVar(name="GREETING", value="again")]
        second = client.update_service(service=first).result(timeout=90)
        deadline = time.monotonic() + 30
        while containers_named(old) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        engine_emulator.settings(run_idle_revision_remove_s=30.0)

    assert containers_named(old) == []  # scaled to zero, as Google does with a revision without traffic
    assert requests.get(second.uri, timeout=10).text == f"{short(second.latest_ready_revision)} says again"
    client.delete_service(name=first.name).result(timeout=60)


@pytest.mark.containers
def test_engine_keeps_a_tagged_revision_at_0_percent_running_until_its_tag_goes(
    engine_emulator: Any, app_image: str
) -> None:
    """A tag URL reaches its revision whatever its percent (TrafficTarget.tag: "a string to be part of the URI to
    exclusively reference this target", run_v2 traffic_target.proto); without traffic or a tag it scales to zero."""
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    first = client.create_service(parent=parent, service_id="tagged", service=service_body(APP_IMAGE)).result(
        timeout=90
    )
    old = short(first.latest_ready_revision)
    engine_emulator.settings(run_idle_revision_remove_s=0.5)
    try:
        first.template.containers[0].env = [run_v2.EnvVar(name="GREETING", value="new")]
        first.traffic = [
            run_v2.TrafficTarget(type_=LATEST, percent=100),
            run_v2.TrafficTarget(type_=BY_REVISION, revision=old, percent=0, tag="old"),
        ]
        second = client.update_service(service=first).result(timeout=90)
        time.sleep(2)  # past the idle delay: a revision with only a tag is not idle
        (status,) = [s for s in second.traffic_statuses if s.tag == "old"]
        assert (status.type_, status.revision, status.percent) == (BY_REVISION, old, 0)
        assert requests.get(status.uri, timeout=10).text == f"{old} says hello"
        assert {requests.get(second.uri, timeout=10).text for _ in range(10)} == {
            f"{short(second.latest_ready_revision)} says new"
        }
        second.traffic = [run_v2.TrafficTarget(type_=LATEST, percent=100)]
        client.update_service(service=second).result(timeout=90)
        name = f"deployer-emu-run-engine-tagged-{old}"
        deadline = time.monotonic() + 30
        while containers_named(name) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert containers_named(name) == []
    finally:
        engine_emulator.settings(run_idle_revision_remove_s=30.0)
    client.delete_service(name=first.name).result(timeout=60)


@pytest.mark.containers
def test_engine_fails_a_container_that_never_listens(engine_emulator: Any, app_image: str) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    body = service_body(APP_IMAGE, container={"command": ["sleep", "300"]})
    engine_emulator.settings(revision_start_timeout_s=2.0)
    try:
        operation = client.create_service(parent=parent, service_id="mute", service=body)
        with pytest.raises(gexc.FailedPrecondition):
            operation.result(timeout=60)
    finally:
        engine_emulator.settings(revision_start_timeout_s=60.0)

    service = client.get_service(name=f"{parent}/services/mute")
    revision = revisions_client(engine_emulator.url).get_revision(name=service.latest_created_revision)
    assert "The container did not listen on port 8080 within 2 s." in revision.conditions[0].message
    assert containers_named("deployer-emu-run-engine-mute-") == []
    answer = requests.get(service.uri, timeout=10)
    assert answer.status_code == 503
    assert answer.text == "Service mute has no revision ready to serve traffic.\n"
    client.delete_service(name=service.name).result(timeout=60)


@pytest.mark.containers
def test_engine_reports_a_local_image_it_does_not_have(engine_emulator: Any) -> None:
    client = services_client(engine_emulator.url)
    parent = f"projects/run-engine/locations/{LOCATION}"
    image = "docker.io/deployer-tests/not-built:v0"
    operation = client.create_service(parent=parent, service_id="absent", service=service_body(image))

    with pytest.raises(gexc.InternalServerError) as failure:
        operation.result(timeout=60)

    assert failure.value.message.endswith(f"Image '{image}' not found.")


@pytest.fixture(scope="module")
def seeded_engine_emulator(
    tmp_path_factory: pytest.TempPathFactory, engine_emulator: Any, app_image: str
) -> Iterator[Process]:
    # Depending on engine_emulator skips this, with its reason, where no engine answers.
    state_dir = tmp_path_factory.mktemp("run-seeded-engine") / "state"
    seed_registry(state_dir, [("app", "v1", True, app_image), ("placeholder", "v1", False, None)])
    process = EmulatorProcess(state_dir=state_dir, env={"DEPLOYER_EMULATOR_ENGINE": engine_emulator.engine}).start()
    try:
        yield Process(process)
    finally:
        process.stop()
    assert containers_named(f"deployer-emu-{AR_PROJECT}-") == []  # the emulator removed what it started


@pytest.mark.containers
def test_engine_runs_the_image_artifact_registry_recorded(seeded_engine_emulator: Process) -> None:
    service = create(seeded_engine_emulator.url, "registry-app", f"{AR_HOST}/app:v1", parent=AR_PARENT)

    assert requests.get(service.uri, timeout=10).text == f"{short(service.latest_ready_revision)} says hello"
    assert containers_named(f"deployer-emu-{AR_PROJECT}-registry-app-") == [
        f"deployer-emu-{AR_PROJECT}-registry-app-{short(service.latest_ready_revision)}"
    ]


@pytest.mark.containers
def test_engine_does_not_pretend_to_run_an_image_no_build_executed(seeded_engine_emulator: Process) -> None:
    service = create(seeded_engine_emulator.url, "placeholder", f"{AR_HOST}/placeholder:v1", parent=AR_PARENT)

    answer = requests.get(service.uri, timeout=10)

    assert service.terminal_condition.state == SUCCEEDED
    assert answer.status_code == 503
    assert "recorded by a build that did not execute" in answer.text
