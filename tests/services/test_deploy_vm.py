"""Emulator tier: `deployer deploy|status|destroy` for a [vms.NAME] target, through the CLI and the real Compute
client library, against a real emulator process. Assertions are on what the emulator recorded and holds.

Compute settings are the emulator's (the emulator's compute surface): ``compute_exhausted_zones`` and
``compute_quota_overrides``; every test that sets them resets them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from deployer_emulator.testing import EmulatorHandle
from tests.projects import ISSUE_VM, REGION, invoke


def make_project(directory: Path, *, zone: str | None = "europe-west4-a", vm: str | None = None) -> str:
    """The issue's project: a training Dockerfile under train/ and the issue's [vms.trainer] table."""
    project = f"proj-{uuid.uuid4().hex[:10]}"
    (directory / "train").mkdir(parents=True, exist_ok=True)
    (directory / "train" / "Dockerfile").write_text(
        'FROM python:3.12-slim\nCOPY train.py /train.py\nCMD ["python", "/train.py"]\n'
    )
    (directory / "train.py").write_text("print('training')\n")
    table = vm if vm is not None else ISSUE_VM.replace("{zone}", f'zone = "{zone}"' if zone else "")
    (directory / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n{table}')
    return project


def deploy_then_edit(emulator: EmulatorHandle, directory: Path, old: str, new: str) -> str:
    """Deploys the issue's VM, then changes ``old`` to ``new`` in its deployer.toml; the project id."""
    project = make_project(directory)
    run_json(emulator, "deploy", "trainer", "-C", str(directory))
    toml = directory / "deployer.toml"
    toml.write_text(toml.read_text().replace(old, new))
    return project


def run_json(emulator: EmulatorHandle, *args: str, exit_code: int = 0) -> dict[str, Any]:
    result = invoke(emulator, *args, "--json")
    assert result.exit_code == exit_code, result.stderr
    return dict(json.loads(result.stdout))


def mutations(emulator: EmulatorHandle) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in emulator.mutating_requests()]


def instances(emulator: EmulatorHandle) -> Any:
    return compute_v1.InstancesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def user_data(instance: compute_v1.Instance) -> str:
    return next(item.value for item in instance.metadata.items if item.key == "user-data")


@pytest.fixture
def compute_settings(emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    """The emulator, with its Compute settings put back to their defaults after the test."""
    yield emulator
    emulator.settings(compute_exhausted_zones=[], compute_quota_overrides={}, compute_clock_advance_s=0)


def test_deploy_creates_a_g2_vm_whose_user_data_installs_the_driver_before_the_container(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "app")
    emulator.mark()
    doc = run_json(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"))

    assert doc["target"] == "vm"
    assert (doc["name"], doc["zone"], doc["machine_type"]) == ("trainer", "europe-west4-a", "g2-standard-8")
    assert doc["gpu"] == {"type": "nvidia-l4", "count": 1}
    assert doc["digest"].startswith("sha256:")
    assert doc["image"] == f"{REGION}-docker.pkg.dev/{project}/deployer/trainer"
    assert doc["external_ip"]
    assert doc["firewall"] == "deployer-trainer-allow"
    done = mutations(emulator)
    assert f"POST /compute/v1/projects/{project}/zones/europe-west4-a/instances" in done
    assert f"POST /compute/v1/projects/{project}/global/firewalls" in done

    # The VM as Google's own client library reads it back from the emulator.
    vm = instances(emulator).get(project=project, zone="europe-west4-a", instance="trainer")
    assert vm.machine_type.endswith("/machineTypes/g2-standard-8")
    assert vm.scheduling.on_host_maintenance == "TERMINATE"
    assert vm.scheduling.provisioning_model == "SPOT"
    assert vm.scheduling.instance_termination_action == "STOP"
    assert vm.scheduling.max_run_duration.seconds == 8 * 3600
    assert vm.labels["managed-by"] == "deployer"
    assert "gce-container-declaration" not in {item.key for item in vm.metadata.items}
    cloud_config = yaml.safe_load(user_data(vm))
    units = {f["path"].rsplit("/", 1)[-1]: f["content"] for f in cloud_config["write_files"]}
    assert list(units) == ["trainer.env", "deployer-gpu-driver.service", "deployer-app.service"]
    assert "ExecStart=/usr/bin/cos-extensions install gpu" in units["deployer-gpu-driver.service"]
    app_unit = units["deployer-app.service"]
    assert "Requires=deployer-gpu-driver.service" in app_unit
    assert "After=gcr-online.target docker.socket deployer-gpu-driver.service" in app_unit
    assert f"{doc['image']}@{doc['digest']} --epochs 10" in app_unit
    assert "-e WANDB_MODE " in app_unit
    assert 'WANDB_MODE="offline"' in units["trainer.env"]
    assert "--device /dev/nvidia0:/dev/nvidia0" in app_unit


def test_new_image_updates_the_same_vm_and_an_identical_deploy_sends_nothing(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    first = run_json(emulator, "deploy", "trainer", "-C", str(directory))
    vm_path = f"/compute/v1/projects/{project}/zones/europe-west4-a/instances/trainer"

    (directory / "train.py").write_text("print('training, better')\n")
    emulator.mark()
    second = run_json(emulator, "deploy", "trainer", "-C", str(directory))
    done = mutations(emulator)
    assert second["digest"] != first["digest"]
    assert f"POST {vm_path}/setMetadata" in done
    assert f"POST {vm_path}/reset" in done
    assert not [m for m in done if m.startswith("DELETE") or m.endswith("/instances")], done
    vm = instances(emulator).get(project=project, zone="europe-west4-a", instance="trainer")
    assert f"{second['image']}@{second['digest']}" in user_data(vm)
    assert first["digest"] not in user_data(vm)
    update = next(step for step in second["steps"] if step["resource"].endswith("/instances/trainer"))
    assert update["action"] == "update"
    assert "the image, once built" in update["summary"]

    emulator.mark()
    third = run_json(emulator, "deploy", "trainer", "-C", str(directory))
    assert mutations(emulator) == []
    assert third["changed"] is False
    assert all(step["action"] == "noop" for step in third["steps"])


def test_first_zone_out_of_capacity_lands_in_another_zone_and_says_so(
    compute_settings: EmulatorHandle, tmp_path: Path
) -> None:
    emulator = compute_settings
    project = make_project(tmp_path / "app")
    emulator.settings(compute_exhausted_zones=["europe-west4-a"])
    emulator.mark()
    result = invoke(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["zone"] == "europe-west4-b"
    assert doc["zones_tried"] == ["europe-west4-a", "europe-west4-b"]
    assert "zone europe-west4-a had no capacity; trying europe-west4-b" in result.stderr
    inserts = [m for m in mutations(emulator) if m.endswith("/instances")]
    assert inserts == [
        f"POST /compute/v1/projects/{project}/zones/europe-west4-a/instances",
        f"POST /compute/v1/projects/{project}/zones/europe-west4-b/instances",
    ]
    vm = instances(emulator).get(project=project, zone="europe-west4-b", instance="trainer")
    assert vm.status == "RUNNING"


def test_no_l4_quota_stops_before_any_upload_naming_the_metric_and_the_quotas_page(
    compute_settings: EmulatorHandle, tmp_path: Path
) -> None:
    emulator = compute_settings
    project = make_project(tmp_path / "app", vm=ISSUE_VM.replace("{zone}", "").replace("spot = true", "spot = false"))
    emulator.settings(compute_quota_overrides={REGION: {"NVIDIA_L4_GPUS": 0}})
    emulator.mark()
    result = invoke(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"))
    assert result.exit_code == 1, result.stderr
    assert "NVIDIA_L4_GPUS" in result.stderr
    assert f"https://console.cloud.google.com/iam-admin/quotas?project={project}&metric=NVIDIA_L4_GPUS" in result.stderr
    assert mutations(emulator) == []
    paths = [r["path"] for r in emulator.requests()]
    assert not [p for p in paths if "/storage/" in p or "/builds" in p or "/upload/" in p], paths


def test_spot_vms_use_the_preemptible_metric_and_fall_back_to_the_standard_one(
    compute_settings: EmulatorHandle, tmp_path: Path
) -> None:
    emulator = compute_settings
    make_project(tmp_path / "app")
    # Preemptible quota granted but used up elsewhere is what a spot VM needs: it is refused by it.
    emulator.settings(compute_quota_overrides={REGION: {"PREEMPTIBLE_NVIDIA_L4_GPUS": 0.5, "NVIDIA_L4_GPUS": 8}})
    doc = run_json(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"), exit_code=1)
    assert "PREEMPTIBLE_NVIDIA_L4_GPUS (region europe-west4): limit 0.5" in doc["error"]["message"]
    assert "metric=PREEMPTIBLE_NVIDIA_L4_GPUS" in doc["error"]["hint"]
    # Without preemptible quota, spot VMs count against the standard metric.
    emulator.settings(compute_quota_overrides={REGION: {"PREEMPTIBLE_NVIDIA_L4_GPUS": 0, "NVIDIA_L4_GPUS": 0}})
    doc = run_json(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"), exit_code=1)
    assert "NVIDIA_L4_GPUS (region europe-west4): limit 0" in doc["error"]["message"]
    assert (
        "spot VMs count against NVIDIA_L4_GPUS while the project has no PREEMPTIBLE_NVIDIA_L4_GPUS"
        in (doc["error"]["message"])
    )
    assert "metric=NVIDIA_L4_GPUS" in doc["error"]["hint"]
    assert "metric=PREEMPTIBLE_NVIDIA_L4_GPUS" in doc["error"]["hint"]
    emulator.settings(compute_quota_overrides={REGION: {"PREEMPTIBLE_NVIDIA_L4_GPUS": 0, "NVIDIA_L4_GPUS": 1}})
    assert run_json(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"))["zone"] == "europe-west4-a"


def test_gpus_all_regions_is_checked_too(compute_settings: EmulatorHandle, tmp_path: Path) -> None:
    emulator = compute_settings
    project = make_project(tmp_path / "app")
    emulator.settings(compute_quota_overrides={"global": {"GPUS_ALL_REGIONS": 0}})
    emulator.mark()
    doc = run_json(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"), exit_code=1)
    assert "GPUS_ALL_REGIONS (all regions): limit 0" in doc["error"]["message"]
    assert f"quotas?project={project}&metric=GPUS_ALL_REGIONS" in doc["error"]["hint"]
    assert mutations(emulator) == []


def test_a_bad_gpu_combination_exits_2_before_any_request(emulator: EmulatorHandle, tmp_path: Path) -> None:
    vm = (
        '[vms.trainer]\ndockerfile = "train/Dockerfile"\nmachine_type = "n1-standard-8"\ngpu = { type = "nvidia-l4" }\n'
    )
    make_project(tmp_path / "app", vm=vm)
    emulator.mark()
    result = invoke(emulator, "deploy", "trainer", "-C", str(tmp_path / "app"))
    assert result.exit_code == 2
    assert 'gpu.type = "nvidia-l4" does not attach to machine_type = "n1-standard-8"' in result.stderr
    assert emulator.requests() == []


def test_status_and_destroy(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    deployed = run_json(emulator, "deploy", "trainer", "-C", str(directory))

    status = run_json(emulator, "status", "trainer", "-C", str(directory))
    assert (status["exists"], status["status"], status["zone"]) == (True, "RUNNING", "europe-west4-a")
    assert status["external_ip"] == deployed["external_ip"]
    assert status["gpus"] == [{"type": "nvidia-l4", "count": 1}]
    assert status["provisioning_model"] == "SPOT"
    assert status["image"] == f"{deployed['image']}@{deployed['digest']}"
    assert status["log"]
    assert status["firewall"]["name"] == "deployer-trainer-allow"
    text = invoke(emulator, "status", "trainer", "-C", str(directory))
    assert text.exit_code == 0
    assert "VM trainer: RUNNING in europe-west4-a" in text.stdout
    assert "container:" in text.stdout

    emulator.mark()
    dry = run_json(emulator, "destroy", "trainer", "-C", str(directory), "--dry-run")
    assert [s["action"] for s in dry["steps"]] == ["delete", "delete"]
    assert mutations(emulator) == []
    refused = invoke(emulator, "destroy", "trainer", "-C", str(directory))
    assert refused.exit_code == 2  # no terminal to ask on, and no --yes
    assert mutations(emulator) == []

    gone = run_json(emulator, "destroy", "trainer", "-C", str(directory), "--yes")
    assert gone["zone"] == "europe-west4-a"
    assert mutations(emulator) == [
        f"DELETE /compute/v1/projects/{project}/zones/europe-west4-a/instances/trainer",
        f"DELETE /compute/v1/projects/{project}/global/firewalls/deployer-trainer-allow",
    ]
    after = run_json(emulator, "status", "trainer", "-C", str(directory))
    assert (after["exists"], after["firewall"]) == (False, None)
    emulator.mark()
    again = run_json(emulator, "destroy", "trainer", "-C", str(directory), "--yes")
    assert again["changed"] is False
    assert mutations(emulator) == []


def test_an_env_change_updates_the_container_without_a_build(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = deploy_then_edit(emulator, directory, 'WANDB_MODE = "offline"', 'WANDB_MODE = "online"')
    emulator.mark()
    doc = run_json(emulator, "deploy", "trainer", "-C", str(directory))
    vm_path = f"/compute/v1/projects/{project}/zones/europe-west4-a/instances/trainer"
    assert mutations(emulator) == [f"POST {vm_path}/setMetadata", f"POST {vm_path}/reset"]
    update = next(step for step in doc["steps"] if step["action"] == "update")
    assert "container settings" in update["summary"]
    vm = instances(emulator).get(project=project, zone="europe-west4-a", instance="trainer")
    assert 'WANDB_MODE="online"' in user_data(vm)


def test_a_new_machine_shape_recreates_the_vm_and_the_plan_says_so(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = deploy_then_edit(emulator, directory, "g2-standard-8", "g2-standard-12")
    dry = run_json(emulator, "deploy", "trainer", "-C", str(directory), "--dry-run")
    step = next(step for step in dry["steps"] if step["resource"].endswith("/instances/trainer"))
    assert step["summary"].startswith("recreate VM trainer")
    assert "its boot disk and everything on it is lost" in step["summary"]
    assert "machine type g2-standard-8 → g2-standard-12" in step["summary"]
    emulator.mark()
    # A plain deploy asks before it deletes the boot disk; without a terminal to ask on it is refused.
    for extra in ((), ("--json",)):
        refused = invoke(emulator, "deploy", "trainer", "-C", str(directory), *extra)
        assert refused.exit_code == 2, refused.stderr
        assert "Recreate VM trainer, deleting its boot disk and everything on it?" in refused.stderr
        assert "--yes" in refused.stderr
    assert mutations(emulator) == []
    run_json(emulator, "deploy", "trainer", "-C", str(directory), "--yes")
    base = f"/compute/v1/projects/{project}/zones/europe-west4-a/instances"
    assert mutations(emulator) == [f"DELETE {base}/trainer", f"POST {base}"]
    vm = instances(emulator).get(project=project, zone="europe-west4-a", instance="trainer")
    assert vm.machine_type.endswith("/g2-standard-12")


def test_a_vm_stopped_by_its_run_limit_is_started_again(compute_settings: EmulatorHandle, tmp_path: Path) -> None:
    emulator = compute_settings
    directory = tmp_path / "app"
    project = make_project(directory)
    run_json(emulator, "deploy", "trainer", "-C", str(directory))
    emulator.settings(compute_clock_advance_s=9 * 3600)
    assert run_json(emulator, "status", "trainer", "-C", str(directory))["status"] == "TERMINATED"
    emulator.settings(compute_clock_advance_s=0)
    emulator.mark()
    doc = run_json(emulator, "deploy", "trainer", "-C", str(directory))
    vm_path = f"/compute/v1/projects/{project}/zones/europe-west4-a/instances/trainer"
    assert mutations(emulator) == [f"POST {vm_path}/start"]
    assert doc["status"] == "RUNNING"


def test_a_cpu_vm_without_zone_and_ports_removed_later(emulator: EmulatorHandle, tmp_path: Path) -> None:
    vm = '[vms.web]\ndockerfile = "train/Dockerfile"\nmachine_type = "e2-small"\nports = [8080]\n'
    directory = tmp_path / "app"
    project = make_project(directory, vm=vm)
    doc = run_json(emulator, "deploy", "web", "-C", str(directory))
    assert (doc["zone"], doc["gpu"], doc["max_run_seconds"]) == ("europe-west4-a", None, None)
    created = instances(emulator).get(project=project, zone="europe-west4-a", instance="web")
    assert created.scheduling.on_host_maintenance == "MIGRATE"
    assert "nvidia" not in user_data(created)

    (directory / "deployer.toml").write_text((directory / "deployer.toml").read_text().replace("ports = [8080]\n", ""))
    emulator.mark()
    run_json(emulator, "deploy", "web", "-C", str(directory))
    # The firewall rule goes first (before the VM changes), so no step leaves a port open that should be shut.
    assert mutations(emulator) == [
        f"DELETE /compute/v1/projects/{project}/global/firewalls/deployer-web-allow",
        f"POST /compute/v1/projects/{project}/zones/europe-west4-a/instances/web/setMetadata",
        f"POST /compute/v1/projects/{project}/zones/europe-west4-a/instances/web/reset",
    ]


def test_the_vm_runs_as_bootstraps_runtime_account_when_it_exists(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    created = requests.post(
        f"{emulator.url}/v1/projects/{project}/serviceAccounts",
        json={"accountId": "deployer-runtime", "serviceAccount": {"displayName": "deployer runtime"}},
        headers={"Authorization": "Bearer emulator:user:developer@example.com"},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    doc = run_json(emulator, "deploy", "trainer", "-C", str(directory))
    runtime = f"deployer-runtime@{project}.iam.gserviceaccount.com"
    assert doc["service_account"] == runtime
    vm = instances(emulator).get(project=project, zone="europe-west4-a", instance="trainer")
    assert vm.service_accounts[0].email == runtime


def test_a_vm_deployer_did_not_make_is_left_alone(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    instance = compute_v1.Instance(
        name="trainer",
        machine_type="zones/europe-west4-a/machineTypes/e2-small",
        disks=[
            compute_v1.AttachedDisk(
                boot=True,
                auto_delete=True,
                initialize_params=compute_v1.AttachedDiskInitializeParams(
                    source_image="projects/cos-cloud/global/images/family/cos-stable"
                ),
            )
        ],
        network_interfaces=[compute_v1.NetworkInterface(network="global/networks/default")],
    )
    operation = instances(emulator).insert_unary(project=project, zone="europe-west4-a", instance_resource=instance)
    compute_v1.ZoneOperationsClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    ).wait(project=project, zone="europe-west4-a", operation=operation.name)
    emulator.mark()
    deploy = invoke(emulator, "deploy", "trainer", "-C", str(directory))
    assert deploy.exit_code == 1
    assert "was not created by deployer" in deploy.stderr
    destroy = invoke(emulator, "destroy", "trainer", "-C", str(directory), "--yes")
    assert destroy.exit_code == 1
    assert mutations(emulator) == []


def test_cloud_run_services_status_and_destroy(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    make_project(directory, vm='[services.api]\ndockerfile = "train/Dockerfile"\n')
    status = run_json(emulator, "status", "api", "-C", str(directory))
    assert (status["target"], status["exists"]) == ("service", False)
    destroy = invoke(emulator, "destroy", "api", "-C", str(directory), "--yes")
    assert destroy.exit_code == 0  # nothing there: nothing to delete (tests/services/test_run_destroy.py deletes)
    assert "Cloud Run service api: nothing to delete" in destroy.stdout


def test_deploying_a_given_image_updates_the_vm_without_any_build(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    first = run_json(emulator, "deploy", "trainer", "-C", str(directory))
    other = f"{first['image']}@sha256:{'0' * 64}"
    emulator.mark()
    result = invoke(emulator, "deploy", "trainer", "-C", str(directory), "--image", other, "--diff", "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"~ update  projects/{project}/zones/europe-west4-a/instances/trainer" in result.stdout
    assert f"new image trainer@sha256:{'0' * 64}" in result.stdout
    paths = [r["path"] for r in emulator.requests()]
    assert not [p for p in paths if "/builds" in p or "/upload/" in p]
    vm_path = f"/compute/v1/projects/{project}/zones/europe-west4-a/instances/trainer"
    # Then the deployed-… tag is moved to the given image (services/deployed.py); this one is not in the registry.
    assert mutations(emulator)[:2] == [f"POST {vm_path}/setMetadata", f"POST {vm_path}/reset"]
    assert [m.rsplit("/", 1)[-1] for m in mutations(emulator)[2:]] == ["deployed-vm-trainer"]
    vm = instances(emulator).get(project=project, zone="europe-west4-a", instance="trainer")
    assert other in user_data(vm)


def test_a_misspelt_machine_type_exits_2_before_any_upload(emulator: EmulatorHandle, tmp_path: Path) -> None:
    vm = '[vms.web]\ndockerfile = "train/Dockerfile"\nmachine_type = "n1-standard-7"\n'
    make_project(tmp_path / "app", vm=vm)
    emulator.mark()
    result = invoke(emulator, "deploy", "web", "-C", str(tmp_path / "app"))
    assert result.exit_code == 2
    assert 'machine_type = "n1-standard-7" is not offered in zone europe-west4-a' in result.stderr
    assert mutations(emulator) == []
