"""Pure tier: the cloud-init user-data for Container-Optimized OS, checked by cloud-init's and systemd's own tools.

Golden files show the rendered output for a CPU VM and a GPU VM; regenerate them with DEPLOYER_UPDATE_GOLDEN=1.

``systemd-analyze verify`` checks the units: unknown keys, bad values, dependencies. It also checks that every
``Exec*=`` binary exists, and this machine has no /usr/bin/docker, docker-credential-gcr or cos-extensions (COS
does). So the units are verified under ``--root`` in a directory that mirrors COS for these purposes: the units in
/etc/systemd/system, this machine's own unit library (for multi-user.target and the like), stub targets for COS's
gcr-online.target and docker.socket, and executable stubs at the paths the units name. Nothing is tolerated: any
output from systemd-analyze fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from deployer.gcp.bodies import cloud_init
from deployer.gcp.bodies.cloud_init import ContainerSpec, app_unit, render_user_data, systemd_quote

GOLDEN = Path(__file__).parent / "golden"
IMAGE = "europe-west4-docker.pkg.dev/my-proj/deployer/trainer@sha256:" + "ab" * 32

CPU_SPEC = ContainerSpec(
    name="api",
    image="europe-west4-docker.pkg.dev/my-proj/deployer/api@sha256:" + "cd" * 32,
    ports=(8080,),
    env=(("MODEL", "small"),),
    restart="on-failure",
)
GPU_SPEC = ContainerSpec(
    name="trainer",
    image=IMAGE,
    ports=(8080,),
    env=(("WANDB_MODE", "offline"),),
    args=("--epochs", "10"),
    restart="always",
    gpu_count=1,
    driver_version="default",
)
CASES = {"cloud_init_cpu.yaml": CPU_SPEC, "cloud_init_gpu.yaml": GPU_SPEC}

CLOUD_INIT = shutil.which("cloud-init")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
SYSTEM_UNITS = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None)


def _schema_errors(document: str, tmp_path: Path) -> str:
    """cloud-init's own validator (Debian's cloud-init package): empty when valid."""
    assert CLOUD_INIT is not None
    path = tmp_path / "user-data.yaml"
    path.write_text(document)
    result = subprocess.run(
        [CLOUD_INIT, "schema", "--config-file", str(path)], capture_output=True, text=True, check=False
    )
    return "" if result.returncode == 0 else (result.stdout + result.stderr)


needs_cloud_init = pytest.mark.skipif(CLOUD_INIT is None, reason="cloud-init is not installed (Debian: cloud-init)")


@pytest.mark.parametrize(("golden", "spec"), CASES.items())
def test_rendered_user_data_matches_the_golden_file(golden: str, spec: ContainerSpec) -> None:
    rendered = render_user_data(spec)
    path = GOLDEN / golden
    if os.environ.get("DEPLOYER_UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert rendered == path.read_text(), f"{golden} differs; regenerate with DEPLOYER_UPDATE_GOLDEN=1 and review"


@needs_cloud_init
@pytest.mark.parametrize("spec", CASES.values(), ids=CASES.keys())
def test_cloud_init_schema_accepts_the_rendered_document(spec: ContainerSpec, tmp_path: Path) -> None:
    assert _schema_errors(render_user_data(spec), tmp_path) == ""


@needs_cloud_init
def test_cloud_init_schema_check_is_meaningful(tmp_path: Path) -> None:
    broken = render_user_data(CPU_SPEC).replace("write_files:", "write_file:").replace("runcmd:", "runcmd: 5\nx:")
    assert _schema_errors(broken, tmp_path) != ""


def test_gpu_document_installs_the_driver_before_the_container() -> None:
    doc = yaml.safe_load(render_user_data(GPU_SPEC))
    files = {f["path"].rsplit("/", 1)[-1]: f["content"] for f in doc["write_files"]}
    assert list(files) == ["trainer.env", cloud_init.GPU_DRIVER_UNIT, cloud_init.APP_UNIT]
    driver, app = files[cloud_init.GPU_DRIVER_UNIT], files[cloud_init.APP_UNIT]
    assert "Type=oneshot" in driver
    assert "RemainAfterExit=true" in driver
    assert "ExecStart=/usr/bin/cos-extensions install gpu -- -version=default" in driver
    assert "After=gcr-online.target docker.socket" in driver
    assert f"Requires={cloud_init.GPU_DRIVER_UNIT}" in app
    assert f"After=gcr-online.target docker.socket {cloud_init.GPU_DRIVER_UNIT}" in app
    run = next(line for line in app.splitlines() if line.startswith("ExecStart="))
    for flag in (
        "--volume /var/lib/nvidia/lib64:/usr/local/nvidia/lib64",
        "--volume /var/lib/nvidia/bin:/usr/local/nvidia/bin",
        "--device /dev/nvidia0:/dev/nvidia0",
        "--device /dev/nvidia-uvm:/dev/nvidia-uvm",
        "--device /dev/nvidiactl:/dev/nvidiactl",
        "-e LD_LIBRARY_PATH",
    ):
        assert flag in run
    assert _read_env_file(files["trainer.env"])["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"
    assert doc["runcmd"] == [
        "systemctl daemon-reload",
        f"systemctl --no-block start {cloud_init.GPU_DRIVER_UNIT} {cloud_init.APP_UNIT}",
    ]
    assert "gce-container-declaration" not in render_user_data(GPU_SPEC)


def test_one_device_per_gpu_and_the_driver_version_is_passed() -> None:
    spec = ContainerSpec(name="big", image=IMAGE, gpu_count=4, driver_version="R535")
    app = cloud_init.app_unit(spec)
    assert [f"/dev/nvidia{i}:/dev/nvidia{i}" in app for i in range(5)] == [True, True, True, True, False]
    assert "-version=R535" in cloud_init.gpu_driver_unit(spec)


def test_cpu_document_has_no_driver_and_pulls_with_artifact_registry_credentials() -> None:
    doc = yaml.safe_load(render_user_data(CPU_SPEC))
    paths = [f["path"] for f in doc["write_files"]]
    assert paths == ["/etc/deployer/api.env", f"/etc/systemd/system/{cloud_init.APP_UNIT}"]
    app = doc["write_files"][1]["content"]
    assert "Environment=HOME=/home/cloudservice" in app
    assert (
        "ExecStartPre=/usr/bin/docker-credential-gcr configure-docker --registries europe-west4-docker.pkg.dev" in app
    )
    assert "ExecStop=/usr/bin/docker stop api" in app
    assert "Restart=on-failure" in app
    assert "nvidia" not in app
    assert "Requires=" not in app


def test_restart_no_for_batch_jobs_and_command_replaces_the_entrypoint() -> None:
    spec = ContainerSpec(name="job", image=IMAGE, restart="no", command=("python", "train.py"), args=("--fast",))
    app = cloud_init.app_unit(spec)
    assert "Restart=no" in app
    assert "RestartSec" not in app
    assert f"--entrypoint python {IMAGE} train.py --fast" in app
    with pytest.raises(ValueError, match="restart must be one of always, on-failure, no"):
        cloud_init.app_unit(ContainerSpec(name="job", image=IMAGE, restart="sometimes"))


def _systemd_split(line: str) -> list[str]:
    """How systemd reads back one Exec line, per systemd.service(5) "Command lines" (the subset deployer writes)."""
    words: list[str] = []
    index = 0
    escapes = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
    while index < len(line):
        while index < len(line) and line[index] == " ":
            index += 1
        if index >= len(line):
            break
        word = ""
        if line[index] == '"':
            index += 1
            while line[index] != '"':
                if line[index] == "\\":
                    if line[index + 1] == "x":
                        word += chr(int(line[index + 2 : index + 4], 16))
                        index += 4
                        continue
                    word += escapes[line[index + 1]]
                    index += 2
                    continue
                word += line[index]
                index += 1
            index += 1
        else:
            while index < len(line) and line[index] != " ":
                word += line[index]
                index += 1
        words.append(word.replace("$$", "$").replace("%%", "%"))
    return words


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "two words",
        'a "quoted" \\ back',
        "$HOME and ${PATH}",
        "100% sure %n",
        "line1\nline2\ttab",
        "\x01",
        ";",
        "",
    ],
)
def test_env_values_are_escaped_so_systemd_reads_them_back_exactly(value: str) -> None:
    quoted = systemd_quote(f"KEY={value}")
    assert _systemd_split(quoted) == [f"KEY={value}"]
    spec = ContainerSpec(name="api", image=IMAGE, env=(("KEY", value),))
    # The value is read back from the environment file; the command line names the variable only.
    assert _read_env_file(cloud_init.env_file(spec)) == {"KEY": value}
    run = next(line for line in cloud_init.app_unit(spec).splitlines() if line.startswith("ExecStart="))
    words = _systemd_split(run.removeprefix("ExecStart="))
    assert words[words.index("-e") + 1] == "KEY"
    assert words[-1] == IMAGE


def _read_env_file(text: str) -> dict[str, str]:
    """How systemd reads an EnvironmentFile (systemd.exec(5); env-file.c's parser), for the double-quoted
    ``NAME="value"`` lines deployer writes: a backslash before one of \\ " $ ` escapes it and is kept before any
    other character; newlines inside quotes are part of the value."""
    found: dict[str, str] = {}
    index = 0
    while index < len(text):
        equals = text.index("=", index)
        name = text[index:equals]
        assert text[equals + 1] == '"', text
        index = equals + 2
        value = ""
        while text[index] != '"':
            if text[index] == "\\":
                following = text[index + 1]
                value += following if following in '\\"$`' else "\\" + following
                index += 2
                continue
            value += text[index]
            index += 1
        assert text[index + 1] == "\n"
        found[name] = value
        index += 2
    return found


def test_env_values_never_reach_the_command_line_and_only_root_reads_them() -> None:
    spec = ContainerSpec(name="api", image=IMAGE, env=(("API_TOKEN", "tok-canary-123"), ("MODE", "fast")))
    doc = yaml.safe_load(render_user_data(spec))
    files = {f["path"]: f for f in doc["write_files"]}
    env_file = files["/etc/deployer/api.env"]
    app = files[f"/etc/systemd/system/{cloud_init.APP_UNIT}"]
    assert (env_file["permissions"], env_file["owner"]) == ("0600", "root")
    assert (app["permissions"], app["owner"]) == ("0600", "root")
    assert _read_env_file(env_file["content"]) == {"API_TOKEN": "tok-canary-123", "MODE": "fast"}
    assert "tok-canary-123" not in app["content"]
    assert "EnvironmentFile=/etc/deployer/api.env" in app["content"]
    run = next(line for line in app["content"].splitlines() if line.startswith("ExecStart="))
    assert "-e API_TOKEN -e MODE " in run


def test_no_env_writes_no_environment_file() -> None:
    doc = yaml.safe_load(render_user_data(ContainerSpec(name="api", image=IMAGE)))
    assert [f["path"] for f in doc["write_files"]] == [f"/etc/systemd/system/{cloud_init.APP_UNIT}"]
    assert "EnvironmentFile" not in doc["write_files"][0]["content"]


def test_oversized_user_data_is_refused() -> None:
    spec = ContainerSpec(name="api", image=IMAGE, env=(("BIG", "x" * (300 * 1024)),))
    with pytest.raises(ValueError, match="256"):
        render_user_data(spec)


def _cos_like_root(tmp_path: Path, spec: ContainerSpec) -> tuple[Path, list[str]]:
    """A --root for systemd-analyze: COS's binaries as stubs, COS's targets as stubs, the units where COS puts them."""
    assert SYSTEM_UNITS is not None
    root = tmp_path / "root"
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    shutil.copytree(SYSTEM_UNITS, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    for binary in (cloud_init.DOCKER, cloud_init.CREDENTIAL_HELPER, cloud_init.COS_EXTENSIONS, cloud_init.MOUNT):
        stub = root / binary.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    (units / "gcr-online.target").write_text("[Unit]\nDescription=stand-in for COS's gcr-online.target\n")
    (units / "docker.socket").write_text(
        "[Unit]\nDescription=stand-in for COS's docker.socket\n\n[Socket]\nListenStream=/run/docker.sock\n"
    )
    names = []
    doc = yaml.safe_load(render_user_data(spec))
    for item in doc["write_files"]:
        path = root / item["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item["content"])
        if item["path"].endswith(".service"):
            names.append(item["path"])
    return root, names


def _verify(root: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", f"--root={root}", *names],
        capture_output=True,
        text=True,
        check=False,
    )


needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None or SYSTEM_UNITS is None,
    reason="systemd-analyze or a systemd unit library is not installed here",
)


@needs_systemd_analyze
@pytest.mark.parametrize("spec", CASES.values(), ids=CASES.keys())
def test_systemd_analyze_verifies_the_units_without_a_word(spec: ContainerSpec, tmp_path: Path) -> None:
    root, names = _cos_like_root(tmp_path, spec)
    result = _verify(root, names)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_systemd_analyze
def test_systemd_analyze_check_is_meaningful(tmp_path: Path) -> None:
    root, names = _cos_like_root(tmp_path, GPU_SPEC)
    app = root / names[-1].lstrip("/")
    app.write_text(app.read_text().replace("Restart=always", "Restart=sometimes"))
    (root / cloud_init.DOCKER.lstrip("/")).unlink()
    result = _verify(root, names)
    output = result.stdout + result.stderr
    assert "restart specifier" in output
    assert "/usr/bin/docker" in output


@pytest.mark.parametrize(("restart", "powers_off"), [("always", False), ("on-failure", True), ("no", True)])
def test_a_batch_container_that_exits_0_powers_the_vm_off(restart: str, powers_off: bool) -> None:
    spec = next(iter(CASES.values()))
    unit = app_unit(replace(spec, restart=restart))
    assert ("SuccessAction=poweroff" in unit) is powers_off
