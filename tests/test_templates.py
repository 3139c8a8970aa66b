"""Container tier: every template `deployer init` writes, built and run for real with podman.

Each builds, runs as a non-root user, and stops promptly on SIGTERM; the API templates answer on $PORT, the batch
job exits 0 with its default arguments and with overridden ones; a code-only change rebuilds without re-running the
dependency install. The GPU template is built with its CUDA base replaced, through its BASE_IMAGE build argument, by
the local base image; its import of torch is checked where the image has torch.

On machines that cannot pull (CI), `python:3.12-slim` is the local Debian Python stand-in tests/setup.sh makes
(Python 3.11 underneath): the builds say so in their output.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from deployer.services.init import init_project

pytestmark = pytest.mark.containers

PODMAN = shutil.which("podman")
LOCAL_BASE = "docker.io/library/python:3.12-slim"  # the stand-in on machines that cannot pull
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# `podman stop --time N` sends SIGTERM, waits N seconds, then SIGKILL (exit 137): a container that exits with its
# own status stopped on SIGTERM within the grace period.
GRACE_S = 2
KILLED = 137


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    assert PODMAN is not None
    return subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Built:
    template: str
    directory: Path
    image: str
    output: str  # podman's build output


def _build(directory: Path, image: str, *build_args: str) -> str:
    args = ["build", "-t", image, *build_args]
    if CA_BUNDLE.is_file():
        # pip inside the build reaches the package index through this machine's proxy only with its CA.
        args += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    result = _podman(*args, str(directory), timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Built]]:
    if PODMAN is None or _podman("info").returncode != 0:
        pytest.skip("podman is not installed or does not answer `podman info`")
    if _podman("image", "exists", LOCAL_BASE).returncode != 0:
        pytest.skip(f"no local {LOCAL_BASE} (tests/setup.sh makes a stand-in where nothing can be pulled)")
    built: dict[str, Built] = {}
    suffix = uuid.uuid4().hex[:8]
    base_args = {"gpu-pytorch": ("--build-arg", f"BASE_IMAGE={LOCAL_BASE}")}
    try:
        for template in ("python-api", "batch-job", "gpu-pytorch"):
            directory = tmp_path_factory.mktemp(template)
            init_project(directory, template_name=template, name="app")
            image = f"localhost/deployer-template-{template}:{suffix}"
            output = _build(directory, image, *base_args.get(template, ()))
            built[template] = Built(template, directory, image, output)
        yield built
    finally:
        for item in built.values():
            _podman("rmi", "--force", item.image, f"{item.image}-changed")


def _user(image: str) -> str:
    found = _podman("run", "--rm", "--entrypoint", "id", image, "-u")
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


@pytest.mark.parametrize("template", ["python-api", "batch-job", "gpu-pytorch"])
def test_runs_as_a_non_root_user(images: dict[str, Built], template: str) -> None:
    assert _user(images[template].image) == "10001"
    configured = _podman("image", "inspect", "--format", "{{.Config.User}}", images[template].image)
    assert configured.stdout.strip() == "10001"


@pytest.mark.parametrize("template", ["python-api", "batch-job", "gpu-pytorch"])
def test_a_code_change_reuses_the_dependency_layer(images: dict[str, Built], template: str) -> None:
    item = images[template]
    install = "RUN pip install --no-cache-dir -r requirements.txt"
    assert install in item.output
    app_file = next(p for p in ("app.py", "main.py") if (item.directory / p).exists())
    path = item.directory / app_file
    path.write_text(path.read_text() + "\n# a code-only change\n")
    extra = ("--build-arg", f"BASE_IMAGE={LOCAL_BASE}") if template == "gpu-pytorch" else ()
    output = _build(item.directory, f"{item.image}-changed", *extra)
    # podman prints "STEP n/m: RUN …" and then "--> Using cache <id>" when it reuses the layer.
    after_install = output.split(install, 1)[1].lstrip().splitlines()[0]
    assert after_install.startswith("--> Using cache"), output
    copy_code = output.split("COPY . .", 1)[1].lstrip().splitlines()[0]
    assert not copy_code.startswith("--> Using cache"), output  # the code layer is rebuilt


def _serve(image: str, port: int) -> tuple[str, int]:
    """Start the image with PORT set; the container id and the host port it answers on."""
    host_port = _free_port()
    started = _podman("run", "-d", "-e", f"PORT={port}", "-p", f"127.0.0.1:{host_port}:{port}", image)
    assert started.returncode == 0, started.stderr
    return started.stdout.strip(), host_port


def _answer(host_port: int, container: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        try:
            response = requests.get(f"http://127.0.0.1:{host_port}/", timeout=5)
            if response.status_code == 200:
                body: dict[str, object] = response.json()
                return body
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            logs = _podman("logs", container)
            pytest.fail(f"no answer on $PORT: {logs.stdout[-2000:]}{logs.stderr[-2000:]}")
        time.sleep(0.2)


def _stop_status(container: str) -> int:
    stopped = _podman("stop", "--time", str(GRACE_S), container)
    assert stopped.returncode == 0, stopped.stderr
    status = _podman("inspect", "--format", "{{.State.ExitCode}}", container)
    _podman("rm", "--force", container)
    return int(status.stdout.strip())


def test_python_api_answers_on_port_and_stops_on_sigterm(images: dict[str, Built]) -> None:
    # Not 8080: the app must listen where $PORT says.
    container, host_port = _serve(images["python-api"].image, 9137)
    try:
        body = _answer(host_port, container)
        assert body["message"] == "Hello from the python-api template"
        predicted = requests.post(f"http://127.0.0.1:{host_port}/predict", json={"inputs": [2, 4]}, timeout=5)
        assert predicted.json() == {"count": 2, "mean": 3.0}
    finally:
        status = _stop_status(container)
    assert status != KILLED, f"not stopped by SIGTERM within {GRACE_S}s"
    assert status == 0


def test_batch_job_exits_0_with_default_and_overridden_arguments(images: dict[str, Built]) -> None:
    image = images["batch-job"].image
    default = _podman("run", "--rm", image)
    assert default.returncode == 0, default.stderr
    lines = default.stdout.splitlines()
    assert lines[0] == '{"item": 0, "message": "hello #0"}'
    assert '"processed": 3' in lines[-1]
    overridden = _podman("run", "--rm", image, "--count", "5", "--message", "hi")
    assert overridden.returncode == 0, overridden.stderr
    assert '{"item": 4, "message": "hi #4"}' in overridden.stdout
    assert '"processed": 5' in overridden.stdout.splitlines()[-1]
    sharded = _podman("run", "--rm", "-e", "CLOUD_RUN_TASK_INDEX=1", "-e", "CLOUD_RUN_TASK_COUNT=2", image)
    assert '"processed": 1' in sharded.stdout.splitlines()[-1]
    failed = _podman("run", "--rm", image, "--count", "-1")
    assert failed.returncode == 2


def test_batch_job_stops_on_sigterm(images: dict[str, Built]) -> None:
    started = _podman("run", "-d", images["batch-job"].image, "--count", "1000", "--pause", "1")
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    deadline = time.monotonic() + 30
    while '"item": 0' not in _podman("logs", container).stdout:
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.2)
    status = _stop_status(container)
    assert status != KILLED, f"not stopped by SIGTERM within {GRACE_S}s"
    assert status == 143  # the job's own exit on SIGTERM


def test_gpu_template_imports_torch_where_the_image_has_it(images: dict[str, Built]) -> None:
    image = images["gpu-pytorch"].image
    deps = _podman("run", "--rm", "--entrypoint", "python", image, "-c", "import fastapi, uvicorn")
    assert deps.returncode == 0, deps.stderr
    torch = _podman("run", "--rm", "--entrypoint", "python", image, "-c", "import torch; print(torch.__version__)")
    if torch.returncode != 0:
        pytest.skip(
            "torch is not in the image: the CUDA base that carries it (pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime) "
            f"was replaced by the local {LOCAL_BASE}, since no registry can be pulled from here"
        )
    container, host_port = _serve(image, 9138)
    try:
        body = _answer(host_port, container)
        assert body["torch"] == torch.stdout.strip()
        assert body["device"] in ("cpu", "cuda")
    finally:
        status = _stop_status(container)
    assert status != KILLED
