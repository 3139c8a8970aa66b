"""Cloud Run v2: the ``Job`` deployer owns part of, and the job as read with deployer's fields set.

Field meanings: https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.jobs. UpdateJob has no
update_mask (``job.proto``): the whole job is sent back, so the update body is the job as read with only the owned
fields replaced.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from deployer.gcp.bodies.labels import managed_by_label
from deployer.gcp.bodies.run import WorkloadSpec, gpu_fields, merged_template, owned_differences

# Fields Google sets on a Job; left out of what is sent back.
_OUTPUT_ONLY = (
    "uid", "generation", "createTime", "updateTime", "deleteTime", "expireTime", "creator", "lastModifier",
    "observedGeneration", "terminalCondition", "conditions", "executionCount", "latestCreatedExecution",
    "reconciling", "satisfiesPzs",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class JobSpec(WorkloadSpec):
    """The part of a Cloud Run job that deployer.toml owns."""

    tasks: int
    parallelism: int
    max_retries: int


_GPU_KEYS = ("nodeSelector", "gpuZonalRedundancyDisabled")


def job_body(spec: JobSpec) -> dict[str, Any]:
    """The owned fields of a Cloud Run v2 ``Job``, every one set explicitly (empty lists too, so removing ``args``
    from the config removes them from the job)."""
    container: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command),
        "args": list(spec.args),
        "env": [{"name": name, "value": value} for name, value in spec.env],
        "resources": {"limits": {"cpu": spec.cpu, "memory": spec.memory}},
    }
    task: dict[str, Any] = {
        **({"serviceAccount": spec.service_account} if spec.service_account else {}),
        "containers": [container],
        "maxRetries": spec.max_retries,
        "timeout": f"{spec.timeout_s}s",
        **gpu_fields(container, spec.gpu_type, spec.gpu_zonal_redundancy),
    }
    execution = {"taskCount": spec.tasks, "parallelism": spec.parallelism, "template": task}
    return {"labels": managed_by_label(), "template": execution}


def job_differences(desired: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The owned paths where the live job differs from ``desired``."""
    changed = owned_differences(desired, current)
    want, have = desired["template"]["template"], ((current.get("template") or {}).get("template") or {})
    # A GPU taken out of the config: the fields desired no longer sets are still on the job.
    return changed + [f"template.template.{key}" for key in _GPU_KEYS if key in have and key not in want]


def updated_job(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The job as read, with the owned fields of ``desired``: labels merged, the first container's owned fields
    replaced (sidecars and fields others set stay)."""
    body = {k: copy.deepcopy(v) for k, v in current.items() if k not in _OUTPUT_ONLY}
    body["labels"] = {**(current.get("labels") or {}), **desired["labels"]}
    execution = dict(body.get("template") or {})
    want = desired["template"]
    execution["taskCount"], execution["parallelism"] = want["taskCount"], want["parallelism"]
    task = merged_template(execution.get("template"), want["template"])
    for key in _GPU_KEYS:
        if key not in want["template"]:
            task.pop(key, None)
    execution["template"] = task
    body["template"] = execution
    return body
