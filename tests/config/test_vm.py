"""Pure tier: [vms.NAME] tables, their defaults and their errors, and finding a target by name across kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.config import ResolvedConfig, load_config
from deployer.config.vm import DEFAULT_GPU_RUN_DURATION_S, VmConfig
from deployer.errors import BadInput, ExitCode
from tests.projects import ISSUE_VM

ISSUE_CONFIG = 'project = "my-proj-123"\nregion = "europe-west4"\n' + ISSUE_VM.replace(
    "{zone}", 'zone = "europe-west4-a"'
)


def _load(project: Path, text: str) -> ResolvedConfig:
    (project / "deployer.toml").write_text(text)
    return load_config(project, environ={"HOME": str(project), "CLOUDSDK_CONFIG": str(project / "gcloud")})


def _errors(project: Path, text: str) -> str:
    with pytest.raises(BadInput) as caught:
        _load(project, text)
    assert caught.value.exit_code is ExitCode.BAD_INPUT
    return caught.value.message


def test_the_issue_config_loads_with_its_values(project: Path) -> None:
    (project / "deployer.toml").write_text(ISSUE_CONFIG)
    config = load_config(project, environ={"HOME": str(project)})
    vm = config.vms["trainer"]
    assert (vm.machine_type, vm.zone, vm.spot, vm.ports, vm.args) == (
        "g2-standard-8",
        "europe-west4-a",
        True,
        (8080,),
        ("--epochs", "10"),
    )
    assert vm.env == {"WANDB_MODE": "offline"}
    assert vm.max_run_seconds == 8 * 3600
    assert vm.boot_disk_gb == 100
    choice = vm.gpu_choice
    assert choice is not None
    assert (choice.type, choice.count) == ("nvidia-l4", 1)
    assert config.describe()["vms"]["trainer"]["resolved"] == {
        "gpu": {"type": "nvidia-l4", "count": 1},
        "disk_gb": 100,
        "max_run_seconds": 28800,
    }


def test_defaults_depend_on_whether_the_vm_has_gpus() -> None:
    cpu = VmConfig()
    assert (cpu.machine_type, cpu.gpu_choice, cpu.max_run_seconds, cpu.boot_disk_gb) == (
        "e2-standard-2",
        None,
        None,
        20,
    )
    assert (cpu.restart, cpu.termination_action, cpu.gpu_driver_version) == ("always", "STOP", "default")
    gpu = VmConfig(machine_type="g2-standard-8")
    assert gpu.max_run_seconds == DEFAULT_GPU_RUN_DURATION_S
    assert gpu.boot_disk_gb == 50
    assert VmConfig(machine_type="g2-standard-8", max_run_duration="none").max_run_seconds is None
    assert VmConfig(max_run_duration="90m").max_run_seconds == 5400


def test_bad_gpu_combinations_name_the_file_the_vm_and_the_valid_choices(project: Path) -> None:
    message = _errors(
        project,
        """
[vms.a]
machine_type = "n1-standard-8"
gpu = { type = "nvidia-l4", count = 1 }
[vms.b]
machine_type = "g2-standard-8"
gpu = { type = "nvidia-tesla-t4" }
[vms.c]
machine_type = "n1-standard-8"
gpu = { type = "nvidia-tesla-t4", count = 3 }
""",
    )
    lines = message.splitlines()
    assert lines[0].startswith('deployer.toml: vms.a: gpu.type = "nvidia-l4" does not attach to machine_type')
    assert lines[1].startswith('deployer.toml: vms.b: machine_type = "g2-standard-8" comes with 1 nvidia-l4')
    assert (
        lines[2]
        == "deployer.toml: vms.c: gpu.count = 3 is not valid for nvidia-tesla-t4 on N1: allowed counts are 1, 2, 4"
    )


def test_field_errors_name_the_allowed_values(project: Path) -> None:
    message = _errors(
        project,
        """
[vms.a]
restart = "sometimes"
max_run_duration = "10s"
gpu_driver_version = "5"
termination_action = "KEEP"
zone = "europe-west4"
ports = [80, 70000]
machine_type = "t2a-standard-4"
env = { "1BAD" = "x" }
""",
    )
    assert "vms.a.restart = \"sometimes\": must be one of 'always', 'on-failure' or 'no'" in message
    assert 'vms.a.max_run_duration = "10s": must be a duration like "8h"' in message
    assert 'or "none" for no limit' in message
    assert 'vms.a.gpu_driver_version = "5": must be "default", "latest", a driver branch like "R535"' in message
    assert "vms.a.termination_action = \"KEEP\": must be one of 'STOP' or 'DELETE'" in message
    assert 'vms.a.zone = "europe-west4": a zone looks like "europe-west4-a"' in message
    assert "vms.a.ports[1] = 70000: port 70000 is out of range" in message
    assert "Arm machine type" in message
    assert 'invalid environment variable name "1BAD"' in message


def test_combination_errors(project: Path) -> None:
    message = _errors(
        project,
        """
[vms.a]
machine_type = "e2-medium"
termination_action = "DELETE"
gpu_driver_version = "latest"
disk_gb = 5
ports = [8080, 8080]
[vms.b]
machine_type = "g2-standard-8"
disk_gb = 20
""",
    )
    assert "vms.a: disk_gb = 5 is too small: at least 10 for Container-Optimized OS" in message
    assert 'vms.a: gpu_driver_version = "latest" is set but machine_type = "e2-medium" has no GPU' in message
    assert "vms.a: ports = [8080, 8080] lists a port twice" in message
    assert 'vms.a: termination_action = "DELETE" applies only to spot VMs or with a max_run_duration' in message
    assert "vms.b: disk_gb = 20 is too small: at least 30 for a GPU VM" in message


def test_unknown_keys_get_a_suggestion(project: Path) -> None:
    message = _errors(project, '[vms.a]\nmachine_typ = "e2-medium"\n')
    assert 'unknown key vms.a.machine_typ (did you mean "machine_type"?)' in message


def test_target_finds_services_and_vms_by_name(project: Path) -> None:
    config = _load(project, 'project = "my-proj-123"\n[services.api]\n[vms.trainer]\nmachine_type = "e2-medium"\n')
    assert config.target("trainer")[:2] == ("trainer", "vm")
    assert config.target("api")[:2] == ("api", "service")
    with pytest.raises(
        BadInput, match=r'no service, vm or job named "trainr" in deployer.toml \(did you mean "trainer"\?\)'
    ):
        config.target("trainr")
    with pytest.raises(BadInput, match="configures 2 targets"):
        config.target(None)


def test_target_without_a_name_is_the_only_one_and_an_empty_config_says_what_to_add(project: Path) -> None:
    config = _load(project, '[vms.trainer]\nmachine_type = "e2-medium"\n')
    assert config.target(None)[:2] == ("trainer", "vm")
    empty = _load(project, 'project = "my-proj-123"\n')
    with pytest.raises(BadInput, match=r"add a \[services.NAME\] \(Cloud Run\) or \[vms.NAME\]"):
        empty.target(None)


def test_a_name_used_for_a_service_and_a_vm_is_refused(project: Path) -> None:
    message = _errors(project, "[services.app]\n[vms.app]\n")
    assert "used twice: app" in message
