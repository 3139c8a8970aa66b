"""Emulator tier: GPU services on Cloud Run through `deployer deploy` and `deployer doctor`.

Bad GPU shapes stop with exit 2 before any mutating request (read from the emulator's request log); a project without
GPU quota (a new one) stops before the upload with the quota to ask for and its page; a valid GPU service deploys
and the service the client library reads back carries the GPU fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

from deployer_emulator.testing import EmulatorHandle
from tests.cli.test_deploy_cmd import invoke, make_project

L4_SHAPE = 'cpu = "4"\nmemory = "16Gi"\ngpu = { type = "nvidia-l4" }\nmax_instances = 2\n'


# The shapes Cloud Run refuses on a service and on a job alike: (table lines, region flag, what the error says).
L4_2_VCPU = 'cpu = "2"\nmemory = "8Gi"\ngpu = { type = "nvidia-l4" }\n'
TWO_L4 = 'cpu = "4"\nmemory = "16Gi"\ngpu = { type = "nvidia-l4", count = 2 }\n'
RTX_32GI = 'cpu = "20"\nmemory = "32Gi"\ngpu = { type = "nvidia-rtx-pro-6000" }\n'
BAD_GPU_SHAPES = [
    pytest.param(L4_2_VCPU, None, 'needs at least cpu = "4"', id="l4-with-2-vcpu"),
    pytest.param(TWO_L4, None, "gpu.count = 2", id="two-gpus"),
    pytest.param(RTX_32GI, None, 'memory = "80Gi"', id="rtx-pro-6000-with-32gi"),
]


@pytest.mark.parametrize(
    ("extra", "region", "fragment"),
    [
        *BAD_GPU_SHAPES,
        pytest.param(
            L4_SHAPE,
            "europe-north1",
            'region "europe-north1" does not offer gpu.type = "nvidia-l4"',
            id="region-without-the-gpu",
        ),
    ],
)
def test_bad_gpu_shapes_exit_2_before_any_mutating_request(
    emulator: EmulatorHandle, tmp_path: Path, extra: str, region: str | None, fragment: str
) -> None:
    make_project(tmp_path / "app", extra=extra)
    assert_refused_before_sending(emulator, tmp_path / "app", region, fragment)


def assert_refused_before_sending(
    emulator: EmulatorHandle, directory: Path, region: str | None, fragment: str, *names: str
) -> None:
    """``deploy [NAMES]`` exits 2 naming deployer.toml and ``fragment``, with no mutating request sent."""
    emulator.mark()
    result = invoke(emulator, "deploy", *names, "-C", str(directory), *(["--region", region] if region else []))
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "deployer.toml" in result.output
    assert emulator.mutating_requests() == []


def test_no_gpu_quota_stops_before_the_upload_with_the_quota_and_its_page(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "app", extra=L4_SHAPE)
    emulator.mark()

    result = invoke(emulator, "deploy", "-C", str(tmp_path / "app"))

    assert result.exit_code != 0
    assert "NvidiaL4GpuAllocPerProjectRegion in europe-west4 is 0 (new projects start at 0)" in result.output
    assert "max_instances = 2 needs 2" in result.output
    link = f"https://console.cloud.google.com/iam-admin/quotas?project={project}&service=run.googleapis.com"
    assert link in result.output
    assert emulator.mutating_requests() == []


def test_a_gpu_service_deploys_with_the_gpu_fields_and_instance_based_billing(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    extra = L4_SHAPE.replace('gpu = { type = "nvidia-l4" }', 'gpu = { type = "nvidia-l4", zonal_redundancy = false }')
    project = make_project(tmp_path / "app", extra=extra)
    emulator.set_quotas(project, {"NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion": {"europe-west4": 2}})

    plan = invoke(emulator, "deploy", "-C", str(tmp_path / "app"), "--dry-run")
    result = invoke(emulator, "deploy", "-C", str(tmp_path / "app"), "--json")

    assert plan.exit_code == 0, plan.output
    assert "instance-based billing" in plan.output
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    client = run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    service = client.get_service(name=f"projects/{project}/locations/europe-west4/services/api")
    template = service.template
    assert template.node_selector.accelerator == "nvidia-l4"
    assert template.gpu_zonal_redundancy_disabled is True
    container = template.containers[0]
    assert dict(container.resources.limits) == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert container.resources.cpu_idle is False
    # The startup probe waits 30 minutes for a model to load (180 tries, 10 s apart), on the container's port.
    assert container.startup_probe.tcp_socket.port == 8080
    assert container.startup_probe.period_seconds * container.startup_probe.failure_threshold == 1800
    assert doc["revision"].startswith("api-00001-")

    again = invoke(emulator, "deploy", "-C", str(tmp_path / "app"), "--json")
    assert again.exit_code == 0, again.output
    assert [s["action"] for s in json.loads(again.stdout)["steps"]][-2:] == ["noop", "noop"]


def test_doctor_reports_the_missing_gpu_quota_with_its_fix(emulator: EmulatorHandle, tmp_path: Path) -> None:
    make_project(tmp_path / "app", extra=L4_SHAPE)

    result = invoke(emulator, "doctor", "-C", str(tmp_path / "app"), "--json")

    findings = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "gpu api"]
    errors = [f for f in findings if f["severity"] == "error"]
    assert len(errors) == 1
    assert "NvidiaL4GpuAllocPerProjectRegion" in errors[0]["found"]
    assert "quotaId=NvidiaL4GpuAllocPerProjectRegion" in errors[0]["fix"]


@pytest.mark.gcp
def test_live_google_checks_a_gpu_service_and_reports_its_quota(tmp_path: Path) -> None:
    """Live: a real project (DEPLOYER_LIVE_PROJECT, region DEPLOYER_LIVE_REGION, default us-central1). Doctor reads
    the Cloud Run GPU, CPU and memory quotas through the Cloud Quotas API, and a dry run has Cloud Run check the GPU
    service (validate_only: nothing is created) with Google's sample image."""
    import os

    from typer.testing import CliRunner

    from deployer.cli.app import app

    project = os.environ.get("DEPLOYER_LIVE_PROJECT")
    if not project:
        pytest.skip("set DEPLOYER_LIVE_PROJECT to a project where you may deploy")
    region = os.environ.get("DEPLOYER_LIVE_REGION", "us-central1")
    (tmp_path / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{region}"\n[services.gpu-live-check]\n{L4_SHAPE}'
    )
    runner = CliRunner()
    doctor = runner.invoke(app, ["doctor", "-C", str(tmp_path), "--json"], catch_exceptions=False)
    findings = [f for f in json.loads(doctor.stdout)["findings"] if f["check"] == "gpu gpu-live-check"]
    assert findings, doctor.output
    assert all("cannot read" not in f["found"] for f in findings), findings
    image = "us-docker.pkg.dev/cloudrun/container/hello"
    planned = runner.invoke(app, ["deploy", "-C", str(tmp_path), "--image", image, "--dry-run"], catch_exceptions=False)
    quota_errors = [f for f in findings if f["severity"] == "error"]
    if quota_errors:
        assert planned.exit_code != 0
        assert "request a quota increase" in planned.output
    else:
        assert planned.exit_code == 0, planned.output
        assert "instance-based billing" in planned.output


def test_doctor_says_when_the_region_does_not_offer_the_gpu(emulator: EmulatorHandle, tmp_path: Path) -> None:
    make_project(tmp_path / "app", extra=L4_SHAPE)

    result = invoke(emulator, "doctor", "-C", str(tmp_path / "app"), "--region", "europe-north1", "--json")

    (error,) = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "gpu api"]
    assert error["severity"] == "error"
    assert 'region "europe-north1" does not offer gpu.type = "nvidia-l4"' in error["found"]
