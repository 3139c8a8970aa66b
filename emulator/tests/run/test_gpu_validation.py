"""Cloud Run GPU rules on a service (and, through the same check, a job's task template), and the regional quotas a
GPU service draws from, read through google-cloud-quotas as deployer reads them."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import cloudquotas_v1
from run_support import LOCATION, PUBLIC_IMAGE, field_violation, raw_create, wait_done

from deployer_emulator.errors import ApiError
from deployer_emulator.run.validation import check_gpu_template
from deployer_emulator.testing import caller_credentials

L4 = {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
RTX = {"cpu": "20", "memory": "80Gi", "nvidia.com/gpu": "1"}


def gpu_body(accelerator: str, limits: dict[str, str], *, max_instances: int = 1, **template: Any) -> dict[str, Any]:
    return {
        "template": {
            "nodeSelector": {"accelerator": accelerator},
            "scaling": {"maxInstanceCount": max_instances},
            "containers": [{"image": PUBLIC_IMAGE, "resources": {"limits": limits, "cpuIdle": False}}],
            **template,
        }
    }


def quotas_client(url: str) -> cloudquotas_v1.CloudQuotasClient:
    return cloudquotas_v1.CloudQuotasClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": url}
    )


@pytest.mark.parametrize(
    ("accelerator", "limits", "parent_region", "field", "fragment"),
    [
        ("nvidia-l4", {**L4, "cpu": "2", "memory": "8Gi"}, LOCATION, "containers[0].resources.limits", "at least 4"),
        ("nvidia-rtx-pro-6000", {**RTX, "memory": "32Gi"}, LOCATION, "containers[0].resources.limits", "80Gi"),
        ("nvidia-l4", {**L4, "nvidia.com/gpu": "2"}, LOCATION, "containers[0].resources.limits", "must be 1"),
        ("nvidia-rtx-pro-6000", RTX, "europe-west1", "node_selector.accelerator", "not supported in region"),
        ("nvidia-t4", L4, LOCATION, "node_selector.accelerator", "unsupported accelerator 'nvidia-t4'"),
    ],
)
def test_bad_gpu_shapes_are_refused_as_google_does(
    emulator: Any, accelerator: str, limits: dict[str, str], parent_region: str, field: str, fragment: str
) -> None:
    parent = f"projects/gpu-shapes/locations/{parent_region}"
    response = raw_create(emulator.url, "bad-gpu", gpu_body(accelerator, limits), parent=parent)

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    violated, description = field_violation(response)
    assert violated == f"Violation in CreateServiceRequest.service.template.{field}"
    assert fragment in description


def test_a_gpu_on_two_containers_is_refused(emulator: Any) -> None:
    body = gpu_body("nvidia-l4", L4)
    sidecar = {"name": "sidecar", "image": PUBLIC_IMAGE, "resources": {"limits": L4, "cpuIdle": False}}
    body["template"]["containers"][0].update(name="app", ports=[{"containerPort": 8080}])
    body["template"]["containers"].append(sidecar)

    response = raw_create(emulator.url, "two-gpus", body, parent=f"projects/gpu-shapes/locations/{LOCATION}")

    assert response.status_code == 400
    assert field_violation(response)[1] == "only one container may request nvidia.com/gpu."


def test_a_new_project_has_no_gpu_quota_in_either_mode(emulator: Any) -> None:
    parent = f"projects/gpu-no-quota/locations/{LOCATION}"
    for disabled, mode in ((False, "with"), (True, "without")):
        body = gpu_body("nvidia-l4", L4, gpuZonalRedundancyDisabled=disabled)
        response = raw_create(emulator.url, "no-quota", body, parent=parent)

        assert response.status_code == 400
        assert f"You do not have quota for using GPUs {mode} zonal redundancy" in response.json()["error"]["message"]


def test_a_gpu_service_within_its_quota_is_accepted_and_more_instances_are_refused(emulator: Any) -> None:
    project = "gpu-with-quota"
    emulator.set_quotas(project, {"NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion": {LOCATION: 2}})
    parent = f"projects/{project}/locations/{LOCATION}"

    too_many = raw_create(
        emulator.url, "l4", gpu_body("nvidia-l4", L4, max_instances=3, gpuZonalRedundancyDisabled=True), parent=parent
    )
    response = raw_create(
        emulator.url, "l4", gpu_body("nvidia-l4", L4, max_instances=2, gpuZonalRedundancyDisabled=True), parent=parent
    )

    message = too_many.json()["error"]["message"]
    assert "Max instances must be set to 2 or fewer" in message
    assert "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion requested: 3 allowed: 2" in message
    assert response.status_code == 200
    template = wait_done(emulator.url, response.json()["name"])["response"]["template"]
    assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert template["gpuZonalRedundancyDisabled"] is True
    assert template["containers"][0]["resources"]["limits"] == L4


def test_an_rtx_pro_6000_instance_is_bigger_than_any_cpu_one_and_needs_memory_quota(emulator: Any) -> None:
    project = "gpu-rtx"
    emulator.set_quotas(project, {"NvidiaRtxPro6000GpuAllocPerProjectRegion": {LOCATION: 3000}})
    emulator.set_quotas(project, {"MemAllocPerProjectRegion": {"*": 40 * 2**30}})
    parent = f"projects/{project}/locations/{LOCATION}"

    refused = raw_create(emulator.url, "rtx", gpu_body("nvidia-rtx-pro-6000", RTX), parent=parent)
    emulator.set_quotas(project, {"MemAllocPerProjectRegion": {"*": 160 * 2**30}})
    accepted = raw_create(emulator.url, "rtx", gpu_body("nvidia-rtx-pro-6000", RTX), parent=parent)

    assert "MemAllocPerProjectRegion requested: 85899345920 allowed: 42949672960" in refused.json()["error"]["message"]
    assert accepted.status_code == 200


def test_quota_info_reads_the_region_value_and_zero_for_gpus_by_default(emulator: Any) -> None:
    emulator.set_quotas("gpu-quota-read", {"NvidiaL4GpuAllocPerProjectRegion": {"europe-west4": 5}})
    client = quotas_client(emulator.url)
    base = "projects/gpu-quota-read/locations/global/services/run.googleapis.com/quotaInfos"

    l4 = client.get_quota_info(name=f"{base}/NvidiaL4GpuAllocPerProjectRegion")
    cpu = client.get_quota_info(name=f"{base}/CpuAllocPerProjectRegion")

    assert l4.metric == "run.googleapis.com/nvidia_l4_gpu_allocation"
    by_region = {info.dimensions.get("region", "*"): info.details.value for info in l4.dimensions_infos}
    assert by_region == {"europe-west4": 5, "*": 0}
    assert cpu.metric_unit == "milli-vCPU"
    assert cpu.dimensions_infos[0].details.value == 1000 * 1000


def test_the_gpu_check_serves_a_job_task_template_too() -> None:
    task = {
        "nodeSelector": {"accelerator": "nvidia-l4"},
        "containers": [{"image": PUBLIC_IMAGE, "resources": {"limits": {**L4, "cpu": "2"}}}],
    }
    with pytest.raises(ApiError) as caught:
        check_gpu_template(task, "CreateJobRequest.job.template.template", region="us-central1", kind="job")
    assert "nvidia-l4 requires at least 4 CPU" in caught.value.message
    task["containers"][0]["resources"]["limits"] = L4
    check_gpu_template(task, "CreateJobRequest.job.template.template", region="us-central1", kind="job")


def test_a_scenario_seeds_a_projects_quotas_and_reading_them_needs_permission(strict_emulator: Any) -> None:
    handle = strict_emulator(
        {
            "projects": [
                {
                    "id": "seeded-gpu",
                    "iam": {"roles/owner": ["user:alice@example.com"], "roles/run.developer": ["user:bob@example.com"]},
                    "services": ["cloudquotas.googleapis.com", "run.googleapis.com", "iam.googleapis.com"],
                    "quotas": {"NvidiaL4GpuAllocPerProjectRegion": {"europe-west4": 3}},
                }
            ]
        }
    )
    name = (
        "projects/seeded-gpu/locations/global/services/run.googleapis.com/quotaInfos/NvidiaL4GpuAllocPerProjectRegion"
    )

    def client(member: str) -> cloudquotas_v1.CloudQuotasClient:
        options = {"api_endpoint": handle.url}
        return cloudquotas_v1.CloudQuotasClient(
            credentials=caller_credentials(member), transport="rest", client_options=options
        )

    # gcp-roles.json keeps only the permissions of the APIs it was filtered to (its _about), and cloudquotas is not
    # one of them: the reader's access comes from a custom role that holds the permission, made as Google makes one.
    from google.cloud import resourcemanager_v3

    owner = caller_credentials("user:alice@example.com")
    made = requests.post(
        f"{handle.url}/v1/projects/seeded-gpu/roles",
        json={"roleId": "quotaReader", "role": {"includedPermissions": ["cloudquotas.quotas.get"]}},
        headers={"Authorization": f"Bearer {owner.token}"},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    projects = resourcemanager_v3.ProjectsClient(
        credentials=owner, transport="rest", client_options={"api_endpoint": handle.url}
    )
    policy = projects.get_iam_policy(resource="projects/seeded-gpu")
    policy.bindings.add(role="projects/seeded-gpu/roles/quotaReader", members=["user:carol@example.com"])
    projects.set_iam_policy(request={"resource": "projects/seeded-gpu", "policy": policy})

    info = client("user:carol@example.com").get_quota_info(name=name)
    values = {i.dimensions.get("region", "*"): i.details.value for i in info.dimensions_infos}
    assert values == {"europe-west4": 3, "*": 0}
    with pytest.raises(gexc.Forbidden):
        client("user:bob@example.com").get_quota_info(name=name)
