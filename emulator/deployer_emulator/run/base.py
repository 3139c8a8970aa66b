"""Cloud Run's table names, Google's words and limits, small helpers, and the state the surface's parts share."""

from __future__ import annotations

import base64
import copy
import re
import time
from typing import Any

from deployer_emulator.common import varint
from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import ApiError, invalid_argument, not_found

SERVICE_TYPE = "type.googleapis.com/google.cloud.run.v2.Service"
REVISION_TYPE = "type.googleapis.com/google.cloud.run.v2.Revision"

SERVICES = "run.services"  # service name -> Service REST JSON
REVISIONS = "run.revisions"  # revision name -> Revision REST JSON
POLICIES = "run.iam"  # service name -> Policy REST JSON
INTERNAL = "run.internal"  # service name -> what the emulator remembers that is no Service field

LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
BY_REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
SUCCEEDED = "CONDITION_SUCCEEDED"
FAILED = "CONDITION_FAILED"
RECONCILING = "CONDITION_RECONCILING"

# Query parameters every Google REST API accepts (https://cloud.google.com/apis/docs/system-parameters); the Python
# clients send ``$alt=json;enum-encoding=int``.
_SYSTEM_PARAMS = frozenset(
    [
        "$alt",
        "alt",
        "key",
        "fields",
        "prettyPrint",
        "quotaUser",
        "access_token",
        "callback",
        "upload_protocol",
        "uploadType",
        "$.xgafv",
        "$fields",
        "$prettyPrint",
        "$callback",
        "$key",
        "$quotaUser",
    ]
)

# "Violation in CreateServiceRequest.service_id: only lowercase, digits, and hyphens; must begin with letter, and
# cannot end with hyphen; must be less than 50 characters." (https://github.com/pulumi/pulumi-gcp/pull/3167)
_SERVICE_ID_RE = re.compile(r"[a-z]([a-z0-9-]{0,47}[a-z0-9])?")
_SERVICE_ID_RULE = (
    "only lowercase, digits, and hyphens; must begin with letter, and cannot end with hyphen; "
    "must be less than 50 characters."
)
_REVISION_NAME_RE = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
_TAG_RE = re.compile(r"[a-z]([a-z0-9-]{0,44}[a-z0-9])?")
# Cloud Run pulls from these registries only; anything else is rejected with this message (seen for ghcr.io images).
_IMAGE_HOST_RULE = (
    "Expected an image path like [host/]repo-path[:tag and/or @digest], where host is one of [region.]gcr.io, "
    "[region-]docker.pkg.dev or docker.io but obtained {image}"
)
_IMAGE_PATH_RE = re.compile(
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)
# Google-owned public repositories (the "hello" sample lives in us-docker.pkg.dev/cloudrun/container): Google pulls
# them like any public image, they are not in this emulator's Artifact Registry.
_PUBLIC_REGISTRY_PROJECTS = frozenset({"cloudrun"})
# Cloud Run API v2 rejects labels and annotations in these namespaces (run_v2 types/service.py, Service.labels).
_RESERVED_KEY_NAMESPACES = (
    "run.googleapis.com",
    "cloud.googleapis.com",
    "serving.knative.dev",
    "autoscaling.knative.dev",
)
# Set by Cloud Run in every container (https://cloud.google.com/run/docs/container-contract#env-vars).
_RESERVED_ENV = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")
_GPU_KEY = "nvidia.com/gpu"
# Each accelerator's least CPU and memory (https://cloud.google.com/run/docs/configuring/services/gpu and .../jobs/gpu:
# "a minimum of 4 CPU and 16 GiB" for L4, "a minimum of 20 CPU and 80 GiB" for RTX PRO 6000).
_GPU_ACCELERATORS = {"nvidia-l4": (4.0, 16 * 2**30), "nvidia-rtx-pro-6000": (20.0, 80 * 2**30)}
# Where each is offered: the newest page copy (docs.cloud.google.com/run/docs/configuring/workerpools/gpu, in
# ../shared/reference/cloud-run-jobs-gpu-traffic.md section 2.5), invitation-only regions included.
_GPU_REGIONS = {
    "nvidia-l4": ("asia-south1", "asia-southeast1", "europe-west1", "europe-west4", "us-central1", "us-east4"),
    "nvidia-rtx-pro-6000": ("asia-south2", "asia-southeast1", "europe-west4", "us-central1"),
}
# (CPU up to, maximum memory, minimum memory): https://cloud.google.com/run/docs/configuring/services/memory-limits
# and .../cpu ("minimum CPU for memory": more than 4 GiB needs 2 CPU, 8 GiB 4 CPU, 16 GiB 6 CPU, 24 GiB 8 CPU).
_MEMORY_BOUNDS = (
    (0.5, 512 * 2**20, 128 * 2**20),
    (1.0, 4 * 2**30, 128 * 2**20),
    (2.0, 8 * 2**30, 128 * 2**20),
    (4.0, 16 * 2**30, 2 * 2**30),
    (6.0, 24 * 2**30, 4 * 2**30),
    (8.0, 32 * 2**30, 4 * 2**30),
)
_WHOLE_CPUS = (1.0, 2.0, 4.0, 6.0, 8.0)

# Google's words when a revision does not start (a Cloud Run deploy, operation error code 9:
# https://github.com/octo-sts/app/pull/1005); the revision condition adds the logs pointer and the guide.
_PORT_FAILURE = (
    "The user-provided container failed to start and listen on the port defined provided by the PORT={port} "
    "environment variable within the allocated timeout. This can happen when the container port is misconfigured "
    "or if the timeout is too short. The health check timeout can be extended. Logs for this revision might "
    "contain more information."
)
_PORT_GUIDE = (
    "For more troubleshooting guidance, see https://cloud.google.com/run/docs/troubleshooting#container-failed-to-start"
)
# Operation error code 13 (terraform-provider-google users' reports, e.g. "Error code 13, message: Revision
# 'hello-00001-b5g' is not ready and cannot serve traffic. Image '…' not found.").
_IMAGE_MISSING = "Image '{image}' not found."
# Operation error code 13 (https://github.com/terraform-google-modules/terraform-docs-samples/pull/269).
_TRAFFIC_REVISION_MISSING = (
    "Revision '{revision}' does not exist or is deleted. Update all traffic to route to currently available revisions."
)
_IAM_BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
_RUN_PERMISSION_RE = re.compile(r"run\.[a-zA-Z]+\.[a-zA-Z]+")


def _etag() -> str:
    """A fingerprint in the shape Google's v2 etags have: a base64 protobuf Timestamp of the change."""
    ns = time.time_ns()
    seconds, nanos = divmod(ns, 1_000_000_000)
    raw = b"\x08" + varint(seconds) + b"\x10" + varint(nanos or 1)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _violation(path: str, description: str) -> ApiError:
    """Cloud Run v2's validation error: ``Violation in <Request>.<field path>: <description>`` with a BadRequest."""
    # e.g. "Violation in CreateServiceRequest.service.template.containers[0].ports: ports should contain 0 or 1
    # port." with fieldViolations[{field: "Violation in CreateServiceRequest.service.template.containers[0].ports",
    # description: "ports should contain 0 or 1 port."}] (https://github.com/GoogleCloudPlatform/magic-modules/pull/10173)
    return invalid_argument(
        f"Violation in {path}: {description}", field=f"Violation in {path}", description=description
    )


def _check_query(req: Request, allowed: set[str]) -> None:
    for name in req.query:
        if name not in allowed and name not in _SYSTEM_PARAMS:
            # Google's front end, for any query parameter the request message does not have.
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                f"Field '{name}' could not be found in request message."
            )


def _service_missing(project: str, location: str, service: str) -> ApiError:
    # "Resource 'x' of kind 'SERVICE' in region 'r' in project 'p' does not exist." is Cloud Run v2's 404.
    return not_found(
        f"Resource '{service}' of kind 'SERVICE' in region '{location}' in project '{project}' does not exist."
    )


def _revision_missing(project: str, location: str, revision: str) -> ApiError:
    return not_found(
        f"Resource '{revision}' of kind 'REVISION' in region '{location}' in project '{project}' does not exist."
    )


def _split_service(name: str) -> tuple[str, str, str]:
    parts = name.split("/")
    return parts[1], parts[3], parts[5]


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _duration_s(value: str) -> float:
    return float(value[:-1]) if value.endswith("s") else float(value)


def _parse_cpu(value: str) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", value.strip())
    if not match:
        return None
    number = float(match.group(1))
    return number / 1000 if match.group(2) else number


_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _parse_memory(value: str) -> int | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?", value.strip())
    if not match:
        return None
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""])


def _memory_text(size: int) -> str:
    for unit in ("Gi", "Mi"):
        if size % _MEMORY_UNITS[unit] == 0:
            return f"{size // _MEMORY_UNITS[unit]}{unit}"
    return str(size)


def _uuid(emulator: Emulator) -> str:
    raw = emulator.new_id()
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:32]}"


def _reconciling_conditions(now: str) -> list[dict[str, Any]]:
    return [
        {"type": t, "state": RECONCILING, "lastTransitionTime": now} for t in ("RoutesReady", "ConfigurationsReady")
    ]


def _revision_conditions(state: str, now: str) -> list[dict[str, Any]]:
    return [
        {"type": t, "state": state, "lastTransitionTime": now}
        for t in ("Ready", "ContainerHealthy", "ResourcesAvailable")
    ]


def _condition(doc: dict[str, Any], kind: str) -> str:
    for condition in doc.get("conditions", []):
        if condition.get("type") == kind:
            return str(condition.get("state", ""))
    return ""


def _done_operation(name: str, type_url: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "metadata": {"@type": type_url, **doc}, "done": True, "response": {"@type": type_url, **doc}}


def _apply_mask(current: dict[str, Any], given: dict[str, Any], mask: str | None) -> dict[str, Any]:
    """UpdateService replaces the whole Service unless update_mask lists the fields to take from the request."""
    if not mask:
        return given
    merged = copy.deepcopy(current)
    for path in mask.split(","):
        parts = [_camel(p) for p in path.strip().split(".") if p]
        if not parts:
            continue
        source: Any = given
        target: Any = merged
        for part in parts[:-1]:
            source = source.get(part, {}) if isinstance(source, dict) else {}
            target = target.setdefault(part, {})
        if isinstance(source, dict) and parts[-1] in source:
            target[parts[-1]] = copy.deepcopy(source[parts[-1]])
        else:
            target.pop(parts[-1], None)
    return merged


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)
