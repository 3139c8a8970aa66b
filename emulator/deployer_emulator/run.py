"""Cloud Run Admin API v2: services, revisions, their operations and IAM policies, with revisions really run.

Paths are the ones google-cloud-run 0.16 calls (``google/cloud/run_v2/services/services/transports/rest_base.py``
and ``.../revisions/transports/rest_base.py``). Bodies are parsed strictly with ``run_v2.Service``; required fields,
value formats and cross-field rules are checked by hand, with Google's wording where it is known (sources next to
each message; "unconfirmed" marks wording that follows Google's pattern without a captured example).

Revisions: with a container engine each new revision's image runs as a container on a free localhost port and is
Ready once its port accepts connections (Cloud Run's default startup probe is TCP on the container port,
https://cloud.google.com/run/docs/configuring/healthchecks). A service's ``uri`` is a per-service proxy on a port
that never changes (run_proxy.py), like Google's one URL per service. Without an engine, or for an image recorded by
a build that did not execute, the control plane is real but nothing runs, and the ``uri`` answers 503 saying so.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import random
import re
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deployer_emulator import iam
from deployer_emulator.core import Emulator, OperationHandle, Request, Response, paginate
from deployer_emulator.errors import ApiError, already_exists, invalid_argument, not_found
from deployer_emulator.protos import merge_json, parse, to_json
from deployer_emulator.run_proxy import Backend, ServiceProxy, Target, Unavailable, free_port

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
_GPU_ACCELERATORS = {"nvidia-l4": (4.0, 16 * 2**30), "nvidia-rtx-pro-6000": (20.0, 80 * 2**30)}
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
# Resource Manager and Cloud Run answer a stale policy etag with 409 ABORTED in these words.
_IAM_CONFLICT = (
    "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
)
_EMPTY_POLICY_ETAG = "ACAB"  # what Google's IAM returns for a policy that was never set
_IAM_MEMBER_RE = re.compile(
    r"allUsers|allAuthenticatedUsers|(?:deleted:)?(?:user|serviceAccount|group):[^@\s]+@[^@\s]+(?:\?uid=\d+)?"
    r"|domain:[a-z0-9.-]+\.[a-z]{2,}|principal(?:Set)?://\S+"
)
_IAM_BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
_RUN_PERMISSION_RE = re.compile(r"run\.[a-zA-Z]+\.[a-zA-Z]+")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _etag() -> str:
    """A fingerprint in the shape Google's v2 etags have: a base64 protobuf Timestamp of the change."""
    ns = time.time_ns()
    seconds, nanos = divmod(ns, 1_000_000_000)
    raw = b"\x08" + _varint(seconds) + b"\x10" + _varint(nanos or 1)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _policy_etag() -> str:
    # Google's policy etags are 8 bytes starting 0x07 ("BwX…" in base64).
    return base64.b64encode(b"\x07\x06" + os.urandom(6)).decode()


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


def _caller_email(caller: str) -> str:
    """``user:alice@example.com`` -> ``alice@example.com``: Service.creator and lastModifier hold bare emails."""
    if caller == "anonymous":
        return ""
    return caller.split(":", 1)[1] if ":" in caller else caller


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


# ---------------------------------------------------------------------------------------------------------------
# Validation and Google's defaults
# ---------------------------------------------------------------------------------------------------------------

# Fields Google sets: accepted in a request (UpdateService sends the whole Service back) and ignored.
_OUTPUT_ONLY = frozenset(
    [
        "name",
        "uid",
        "generation",
        "createTime",
        "updateTime",
        "deleteTime",
        "expireTime",
        "creator",
        "lastModifier",
        "observedGeneration",
        "terminalCondition",
        "conditions",
        "latestReadyRevision",
        "latestCreatedRevision",
        "trafficStatuses",
        "uri",
        "urls",
        "satisfiesPzs",
        "threatDetectionEnabled",
        "reconciling",
        "etag",
    ]
)


# RevisionTemplate fields a Revision carries under the same name.
_TEMPLATE_TO_REVISION = [
    "labels",
    "annotations",
    "scaling",
    "vpcAccess",
    "maxInstanceRequestConcurrency",
    "timeout",
    "serviceAccount",
    "containers",
    "volumes",
    "executionEnvironment",
    "encryptionKey",
    "serviceMesh",
    "encryptionKeyRevocationAction",
    "encryptionKeyShutdownDuration",
    "sessionAffinity",
    "nodeSelector",
    "gpuZonalRedundancyDisabled",
]


def desired_state(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if key not in _OUTPUT_ONLY}


def check_service_id(service_id: str, request: str) -> None:
    if not _SERVICE_ID_RE.fullmatch(service_id):
        raise _violation(f"{request}.service_id", _SERVICE_ID_RULE)


def _check_keys(mapping: dict[str, str] | None, path: str) -> None:
    for key in mapping or {}:
        namespace = key.split("/", 1)[0] if "/" in key else ""
        if namespace in _RESERVED_KEY_NAMESPACES or namespace.endswith(
            tuple("." + n for n in _RESERVED_KEY_NAMESPACES)
        ):
            # Unconfirmed wording; the rule is in run_v2 types/service.py (Service.labels / annotations).
            raise _violation(
                path, f"Cloud Run API v2 does not support the system key '{key}' in the {namespace} namespace."
            )


def normalize_service(spec: dict[str, Any], path: str, *, service_id: str, project_number: str) -> dict[str, Any]:
    """Validate a Service's desired state (REST JSON) and fill in what Google fills in; ``path`` like
    ``CreateServiceRequest.service``."""
    desired = copy.deepcopy(desired_state(spec))
    _check_keys(desired.get("labels"), f"{path}.labels")
    _check_keys(desired.get("annotations"), f"{path}.annotations")
    if len(desired.get("description", "")) > 512:
        raise _violation(f"{path}.description", "must be at most 512 characters.")  # unconfirmed wording
    if desired.get("ingress", "INGRESS_TRAFFIC_UNSPECIFIED") == "INGRESS_TRAFFIC_UNSPECIFIED":
        desired["ingress"] = "INGRESS_TRAFFIC_ALL"
    if desired.get("launchStage", "LAUNCH_STAGE_UNSPECIFIED") == "LAUNCH_STAGE_UNSPECIFIED":
        desired["launchStage"] = "GA"  # "If no value is specified, GA is assumed." (Service.launch_stage)
    template = desired.get("template")
    if not template:
        # "Violation in CreateServiceRequest.service.template: required field not present."
        # (https://github.com/googleapis/google-cloud-java/issues/11101)
        raise _violation(f"{path}.template", "required field not present.")
    desired["template"] = _normalize_template(template, f"{path}.template", service_id, project_number)
    desired["traffic"] = _normalize_traffic(desired.get("traffic") or [], f"{path}.traffic")
    scaling = desired.get("scaling") or {}
    low, high = scaling.get("minInstanceCount", 0), scaling.get("maxInstanceCount", 0)
    if low < 0 or high < 0 or (high and low > high):
        raise _violation(f"{path}.scaling", "min_instance_count must be less than or equal to max_instance_count.")
    return desired


def _normalize_template(template: dict[str, Any], path: str, service_id: str, project_number: str) -> dict[str, Any]:
    template = copy.deepcopy(template)
    _check_keys(template.get("labels"), f"{path}.labels")
    _check_keys(template.get("annotations"), f"{path}.annotations")
    revision = template.get("revision", "")
    if revision:
        if not revision.startswith(f"{service_id}-"):
            # Knative's rule, kept by Cloud Run: a revision name starts with its service's name and a hyphen.
            raise _violation(
                f"{path}.revision",
                "Revision name must be prefixed by the name of the enclosing Service or Configuration with a "
                "trailing -",
            )
        if not _REVISION_NAME_RE.fullmatch(revision):
            raise _violation(f"{path}.revision", "must be a DNS label of at most 63 lowercase letters, digits and '-'.")
    containers = template.get("containers") or []
    if not containers:
        raise _violation(f"{path}.containers", "required field not present.")
    exposing = [i for i, c in enumerate(containers) if c.get("ports")]
    if len(containers) == 1:
        ingress = 0
    elif len(exposing) == 1:
        ingress = exposing[0]
    else:
        # Unconfirmed wording; the rule: exactly one container of several receives requests
        # (https://cloud.google.com/run/docs/deploying#sidecars).
        raise _violation(f"{path}.containers", "exactly one container must specify a port when there are several.")
    names = [c.get("name", "") for c in containers]
    if len(containers) > 1 and len(set(names)) != len(names):
        raise _violation(f"{path}.containers", "container names must be unique.")
    total_cpu = 0.0
    gpu = False
    for index, container in enumerate(containers):
        containers[index], cpu, has_gpu = _normalize_container(
            container, f"{path}.containers[{index}]", index == ingress
        )
        total_cpu += cpu
        gpu = gpu or has_gpu
    template["containers"] = containers
    concurrency = template.get("maxInstanceRequestConcurrency", 0)
    if concurrency < 0 or concurrency > 1000:
        raise _violation(f"{path}.max_instance_request_concurrency", "must be between 0 and 1000.")  # unconfirmed
    if concurrency == 0:
        concurrency = 80  # https://cloud.google.com/run/docs/about-concurrency: default 80
        template["maxInstanceRequestConcurrency"] = concurrency
    if total_cpu < 1 and concurrency > 1:
        # gcloud shows Cloud Run's "Total cpu < 1 is not supported with concurrency > 1."
        raise _violation(
            f"{path}.containers[{ingress}].resources.limits", "Total cpu < 1 is not supported with concurrency > 1."
        )
    timeout = template.setdefault("timeout", "300s")  # request timeout, default 5 minutes
    if not 0 < _duration_s(timeout) <= 3600:
        raise _violation(f"{path}.timeout", "must be between 1s and 3600s.")  # unconfirmed wording
    if not template.get("serviceAccount"):
        # Revisions run as the Compute Engine default service account unless told otherwise.
        template["serviceAccount"] = f"{project_number}-compute@developer.gserviceaccount.com"
    scaling = template.setdefault("scaling", {})
    low, high = scaling.get("minInstanceCount", 0), scaling.get("maxInstanceCount", 0)
    if low < 0 or high < 0 or (high and low > high):
        raise _violation(f"{path}.scaling", "min_instance_count must be less than or equal to max_instance_count.")
    if not high:
        scaling["maxInstanceCount"] = 100  # Cloud Run's default maximum number of instances
    accelerator = (template.get("nodeSelector") or {}).get("accelerator", "")
    if gpu and not accelerator:
        # Unconfirmed wording; the rule: a GPU needs node_selector.accelerator
        # (https://cloud.google.com/run/docs/configuring/services/gpu).
        raise _violation(f"{path}.node_selector.accelerator", "required when a container requests nvidia.com/gpu.")
    if accelerator:
        if accelerator not in _GPU_ACCELERATORS:
            raise _violation(
                f"{path}.node_selector.accelerator",
                f"unsupported accelerator '{accelerator}'; supported: {', '.join(sorted(_GPU_ACCELERATORS))}.",
            )
        if not gpu:
            raise _violation(f"{path}.node_selector.accelerator", "requires a container with an nvidia.com/gpu limit.")
        ingress_container = containers[ingress]
        min_cpu, min_memory = _GPU_ACCELERATORS[accelerator]
        limits = ingress_container["resources"]["limits"]
        memory = _parse_memory(limits["memory"]) or 0
        if total_cpu < min_cpu or memory < min_memory:
            raise _violation(
                f"{path}.containers[{ingress}].resources.limits",
                f"{accelerator} requires at least {min_cpu:g} CPU and {_memory_text(min_memory)} of memory.",
            )
    return template


def _normalize_container(container: dict[str, Any], path: str, ingress: bool) -> tuple[dict[str, Any], float, bool]:
    container = copy.deepcopy(container)
    image = container.get("image", "")
    if not image:
        raise _violation(f"{path}.image", "required field not present.")
    if not _image_allowed(image):
        raise _violation(f"{path}.image", _IMAGE_HOST_RULE.format(image=image))
    ports = container.get("ports") or []
    if len(ports) > 1:
        raise _violation(f"{path}.ports", "ports should contain 0 or 1 port.")  # magic-modules#10173, quoted above
    if ingress:
        port = dict(ports[0]) if ports else {}
        port.setdefault("name", "http1")
        port.setdefault("containerPort", 8080)
        if port["name"] not in ("http1", "h2c"):
            raise _violation(f"{path}.ports[0].name", "must be 'http1' or 'h2c'.")  # unconfirmed wording
        if not 0 < port["containerPort"] < 65536:
            raise _violation(f"{path}.ports[0].container_port", "must be between 1 and 65535.")  # unconfirmed
        container["ports"] = [port]
    reserved = sorted({e.get("name", "") for e in container.get("env", [])} & set(_RESERVED_ENV))
    if reserved:
        # Cloud Run's answer when an env var it sets itself is given.
        raise _violation(
            f"{path}.env",
            f"The following reserved env names were provided: {', '.join(reserved)}. "
            "These values are automatically set by the system.",
        )
    for index, env in enumerate(container.get("env", [])):
        if not env.get("name"):
            raise _violation(f"{path}.env[{index}].name", "required field not present.")
    resources = container.get("resources")
    if resources is None:
        # No resources at all: 1 CPU, 512 MiB, CPU only during requests (the defaults Google reports back).
        resources = {"limits": {"cpu": "1000m", "memory": "512Mi"}, "cpuIdle": True}
    limits = resources.setdefault("limits", {})
    unknown = sorted(set(limits) - {"cpu", "memory", _GPU_KEY})
    if unknown:
        raise _violation(
            f"{path}.resources.limits",
            f"Invalid resource name(s) {', '.join(unknown)}; supported: cpu, memory, {_GPU_KEY}.",  # unconfirmed
        )
    limits.setdefault("cpu", "1000m")
    limits.setdefault("memory", "512Mi")
    cpu = _parse_cpu(limits["cpu"])
    if cpu is None or not (0.08 <= cpu < 1 or cpu in _WHOLE_CPUS):
        raise _violation(
            f"{path}.resources.limits",
            f"Invalid value specified for cpu: '{limits['cpu']}'. Supported values are between 0.08 and 1, "
            "or 1, 2, 4, 6 or 8.",  # unconfirmed wording
        )
    memory = _parse_memory(limits["memory"])
    if memory is None:
        raise _violation(f"{path}.resources.limits", f"Invalid value specified for memory: '{limits['memory']}'.")
    for up_to, most, least in _MEMORY_BOUNDS:
        if cpu <= up_to:
            if not least <= memory <= most:
                # Cloud Run's wording, e.g. "Invalid value specified for container memory. For 1.0 CPU, memory must
                # be between 128Mi and 4Gi inclusive."
                raise _violation(
                    f"{path}.resources.limits",
                    f"Invalid value specified for container memory. For {cpu} CPU, memory must be between "
                    f"{_memory_text(least)} and {_memory_text(most)} inclusive.",
                )
            break
    gpu = _GPU_KEY in limits
    if gpu:
        if limits[_GPU_KEY] != "1":
            raise _violation(
                f"{path}.resources.limits", f"{_GPU_KEY} must be 1: Cloud Run attaches one GPU per instance."
            )
        if resources.get("cpuIdle", False):
            # GPU services need instance-based billing (https://cloud.google.com/run/docs/configuring/services/gpu).
            raise _violation(
                f"{path}.resources.cpu_idle",
                "GPU requires CPU to be always allocated: set cpu_idle to false (instance-based billing).",
            )
    container["resources"] = resources
    if ingress and "startupProbe" not in container:
        # The default startup probe Google reports: TCP on the container port, once, with 240 s.
        container["startupProbe"] = {
            "timeoutSeconds": 240,
            "periodSeconds": 240,
            "failureThreshold": 1,
            "tcpSocket": {"port": container["ports"][0]["containerPort"]},
        }
    return container, cpu, gpu


def _image_allowed(image: str) -> bool:
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
        registry_ok = (
            host in ("docker.io", "index.docker.io", "gcr.io", "docker.pkg.dev")
            or host.endswith(".gcr.io")
            or host.endswith("-docker.pkg.dev")
        )
        if not registry_ok:
            return False
    else:
        path = image
    return _IMAGE_PATH_RE.fullmatch(path) is not None


def _normalize_traffic(traffic: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    if not traffic:
        # "If traffic is empty or not provided, defaults to 100% traffic to the latest Ready Revision."
        return [{"type": LATEST, "percent": 100}]
    total = 0
    tags: set[str] = set()
    for index, target in enumerate(traffic):
        kind = target.get("type", "TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED")
        if kind == "TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED":
            raise _violation(f"{path}[{index}].type", "required field not present.")
        if kind == BY_REVISION and not target.get("revision"):
            raise _violation(f"{path}[{index}].revision", "required field not present.")
        if kind == LATEST and target.get("revision"):
            raise _violation(
                f"{path}[{index}].revision", "must be empty when type is TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST."
            )  # unconfirmed wording
        percent = target.get("percent", 0)
        if not 0 <= percent <= 100:
            raise _violation(f"{path}[{index}].percent", "must be between 0 and 100.")  # unconfirmed wording
        total += percent
        tag = target.get("tag", "")
        if tag:
            if not _TAG_RE.fullmatch(tag):
                raise _violation(f"{path}[{index}].tag", "must be a DNS label: lowercase letters, digits and '-'.")
            if tag in tags:
                raise _violation(f"{path}[{index}].tag", f"tag '{tag}' is used more than once.")  # unconfirmed
            tags.add(tag)
    if total != 100:
        # Unconfirmed wording (Knative says "Traffic targets sum to N, want 100"); the rule is Google's.
        raise _violation(path, f"Traffic targets sum to {total}, want 100.")
    return traffic


# ---------------------------------------------------------------------------------------------------------------
# Running revisions
# ---------------------------------------------------------------------------------------------------------------


class RevisionFailed(Exception):
    """A revision that did not become ready: the operation's error and the revision's condition."""

    def __init__(self, status: str, summary: str, *, detail: str = "", reason: str = "", health: bool = False) -> None:
        super().__init__(summary)
        self.status = status  # FAILED_PRECONDITION (code 9) or INTERNAL (code 13), as Google reports each case
        self.summary = summary  # what follows "Revision 'X' is not ready and cannot serve traffic. "
        self.detail = detail  # appended to the revision's condition only
        self.reason = reason  # Condition.reason (CommonReason) for the Ready condition
        self.health = health  # the container ran but never listened: ContainerHealthy failed

    def message(self, revision: str) -> str:
        return f"Revision '{revision}' is not ready and cannot serve traffic. {self.summary}"


@dataclass
class _Instance:
    container_id: str | None  # None when nothing runs
    target: Target


class Runtime:
    """Containers for revisions, the per-service proxies, and what to remove at shutdown."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._lock = threading.Lock()
        self._instances: dict[str, _Instance] = {}  # revision name
        self._proxies: dict[str, ServiceProxy] = {}  # service name
        self._tag_proxies: dict[tuple[str, str], ServiceProxy] = {}  # (service name, tag)
        self._service_locks: dict[str, threading.Lock] = {}
        self._active: dict[str, set[str]] = {}  # service name -> revision names receiving traffic or tagged
        self._timers: dict[str, threading.Timer] = {}
        self._started: set[str] = set()
        self.logs: dict[str, str] = {}  # revision name -> the log of a container that is gone
        self._closed = False

    @property
    def engine(self) -> Any:
        return self.emulator.engine

    @contextmanager
    def service_lock(self, service: str) -> Iterator[None]:
        with self._lock:
            lock = self._service_locks.setdefault(service, threading.Lock())
        with lock:
            yield

    # -- proxies -----------------------------------------------------------------------------------------------
    def proxy(self, service: str, port: int = 0) -> ServiceProxy:
        with self._lock:
            proxy = self._proxies.get(service)
            if proxy is None:
                proxy = ServiceProxy(_short(service), port)
                self._proxies[service] = proxy
            return proxy

    def route(
        self, service: str, weighted: list[tuple[Target, int]], tagged: dict[str, Target], tag_ports: dict[str, int]
    ) -> dict[str, str]:
        """Point the service's proxy (and one proxy per tag) at their revisions; the tags' URLs."""
        self.proxy(service).set_targets(weighted)
        urls: dict[str, str] = {}
        with self._lock:
            for (owner, tag), proxy in list(self._tag_proxies.items()):
                if owner == service and tag not in tagged:
                    proxy.close()
                    del self._tag_proxies[(owner, tag)]
            for tag, target in tagged.items():
                tag_proxy = self._tag_proxies.get((service, tag))
                if tag_proxy is None:
                    tag_proxy = ServiceProxy(f"{tag}---{_short(service)}", tag_ports.get(tag, 0))
                    self._tag_proxies[(service, tag)] = tag_proxy
                tag_proxy.set_targets([(target, 100)])
                urls[tag] = tag_proxy.url
        return urls

    # -- revisions ---------------------------------------------------------------------------------------------
    def ensure(self, revision: dict[str, Any]) -> Target:
        """The revision's target, starting its container if none runs; raises RevisionFailed."""
        name = revision["name"]
        with self._lock:
            instance = self._instances.get(name)
            timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if instance is not None:
            return instance.target
        project, location, service_id = _split_service(revision["service"])
        rev_id = _short(name)
        container = next((c for c in revision["containers"] if c.get("ports")), revision["containers"][0])
        image = container["image"]
        run_ref, not_run = self._resolve_image(image, project, location, service_id)
        if run_ref is None:
            target: Target = Unavailable(not_run)
            with self._lock:
                self._instances[name] = _Instance(None, target)
            return target
        port = int(container["ports"][0]["containerPort"])
        host_port = free_port()
        env = {e["name"]: e.get("value", "") for e in container.get("env", []) if "valueSource" not in e}
        env.update(PORT=str(port), K_SERVICE=service_id, K_REVISION=rev_id, K_CONFIGURATION=service_id)
        container_name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"deployer-emu-{project}-{service_id}-{rev_id}")
        engine = self.engine
        engine.remove(container_name)  # a leftover of an earlier emulator run would hold the name
        container_id, output = engine.run_detached(
            run_ref,
            name=container_name,
            env=env,
            publish={host_port: port},
            command=container.get("command", []),
            args=container.get("args", []),
            labels={"dev.deployer_emulator.run.revision": name},
        )
        port_failure = _PORT_FAILURE.format(port=port)
        if container_id is None:
            raise RevisionFailed(
                "FAILED_PRECONDITION",
                port_failure,
                detail=f"The container engine could not start it:\n{output}",
                health=True,
            )
        with self._lock:
            self._started.add(container_id)
            closed = self._closed
        if closed:
            self._remove(container_id)
            raise ApiError("UNAVAILABLE", "The emulator is shutting down.")
        ready, exit_code = self._wait_ready(container_id, host_port)
        if not ready:
            logs = engine.logs(container_id, tail=30)
            self._remove(container_id)
            self.logs[name] = logs
            if exit_code is not None:
                how = f"The container exited with code {exit_code}."
            else:
                timeout = self.emulator.settings["revision_start_timeout_s"]
                how = f"The container did not listen on port {port} within {timeout:g} s."
            tail = f"Last lines of its log:\n{logs}" if logs else "It wrote nothing to its log."
            raise RevisionFailed("FAILED_PRECONDITION", port_failure, detail=f"{how} {tail}", health=True)
        target = Backend(rev_id, host_port)
        with self._lock:
            self._instances[name] = _Instance(container_id, target)
        return target

    def _resolve_image(self, image: str, project: str, location: str, service_id: str) -> tuple[str | None, str]:
        """(what the engine runs, or None and why nothing runs); raises RevisionFailed when the image is missing."""
        from deployer_emulator import artifactregistry

        service = f"Cloud Run service '{service_id}' (project {project}, region {location})"
        no_engine = (
            f"The emulator accepted the {service} and its revision is Ready, but the image {image} was not run: "
            "this emulator has no container engine. Install podman or docker and restart the emulator to serve it."
        )
        ref = artifactregistry.parse_image_ref(image)  # LOC-docker.pkg.dev/… and gcr.io/… live in Artifact Registry
        if ref is not None and ref.project not in _PUBLIC_REGISTRY_PROJECTS:
            # local_image_id is None both for a missing image and for one a non-executed build recorded: the
            # registry's own lookup tells the two apart.
            if not artifactregistry.image_exists(self.emulator, image):
                raise RevisionFailed("INTERNAL", _IMAGE_MISSING.format(image=image), reason="CONTAINER_MISSING")
            if self.engine is None:
                return None, no_engine
            local_id = artifactregistry.local_image_id(self.emulator, image)
            if local_id is None or not artifactregistry.image_is_executable(self.emulator, image):
                return None, (
                    f"The emulator accepted the {service} and its revision is Ready, but the image {image} was "
                    "recorded by a build that did not execute (the emulator had no container engine then), so "
                    "there is nothing to run. Build it again with this emulator to serve it."
                )
            if self.engine.image_id(local_id) is None:
                raise RevisionFailed(
                    "INTERNAL",
                    _IMAGE_MISSING.format(image=image),
                    reason="CONTAINER_MISSING",
                    detail=f"The local {self.engine.name} no longer has the image {local_id} that the build produced.",
                )
            return local_id, ""
        if self.engine is None:
            return None, no_engine
        local = self.engine.image_id(image)
        if local is None:
            # Google pulls public images; the emulator can only run what the engine already has.
            raise RevisionFailed(
                "INTERNAL",
                _IMAGE_MISSING.format(image=image),
                reason="CONTAINER_MISSING",
                detail=f"The local {self.engine.name} has no image {image} (the emulator does not pull images).",
            )
        return str(local), ""

    def _wait_ready(self, container_id: str, port: int) -> tuple[bool, int | None]:
        deadline = time.monotonic() + float(self.emulator.settings["revision_start_timeout_s"])
        while True:
            if _listening(port):
                return True, None
            running, exit_code = self.engine.state(container_id)
            if not running:
                return False, exit_code
            if time.monotonic() >= deadline:
                return False, None
            time.sleep(0.2)

    def activate(self, service: str, revisions: set[str]) -> None:
        """Revisions that receive traffic now; the others' containers go after an idle delay (scale to zero)."""
        delay = float(self.emulator.settings.get("run_idle_revision_remove_s", 30.0))
        with self._lock:
            self._active[service] = set(revisions)
            idle = [n for n in self._instances if n.startswith(service + "/") and n not in revisions]
            for name in idle:
                if name not in self._timers:
                    timer = threading.Timer(delay, self._retire, args=(service, name))
                    timer.daemon = True
                    self._timers[name] = timer
                    timer.start()

    def _retire(self, service: str, name: str) -> None:
        with self._lock:
            self._timers.pop(name, None)
            if name in self._active.get(service, set()):
                return
        self.stop(name)

    def stop(self, name: str) -> None:
        with self._lock:
            instance = self._instances.pop(name, None)
            timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if instance is not None and instance.container_id is not None:
            logs = self.engine.logs(instance.container_id, tail=200)
            if logs:
                self.logs[name] = logs
            self._remove(instance.container_id)

    def logs_of(self, name: str) -> str | None:
        with self._lock:
            instance = self._instances.get(name)
        if instance is not None and instance.container_id is not None:
            return str(self.engine.logs(instance.container_id, tail=500))
        return self.logs.get(name)

    def teardown(self, service: str) -> None:
        """A deleted service: its proxies close and its containers go."""
        with self._lock:
            proxies = [p for key, p in self._tag_proxies.items() if key[0] == service]
            for key in [k for k in self._tag_proxies if k[0] == service]:
                del self._tag_proxies[key]
            main = self._proxies.pop(service, None)
            self._active.pop(service, None)
            names = [n for n in self._instances if n.startswith(service + "/")]
        for proxy in [*proxies, *([main] if main else [])]:
            proxy.close()
        _in_parallel([functools.partial(self.stop, name) for name in names])

    def _remove(self, container_id: str) -> None:
        self.engine.remove(container_id)
        with self._lock:
            self._started.discard(container_id)

    def close(self) -> None:
        """Shutdown: every proxy closes and every container this emulator started is removed (by id, so another
        emulator's containers on the same engine are left alone)."""
        with self._lock:
            self._closed = True
            proxies = [*self._proxies.values(), *self._tag_proxies.values()]
            self._proxies.clear()
            self._tag_proxies.clear()
            timers = list(self._timers.values())
            self._timers.clear()
            started = list(self._started)
        for timer in timers:
            timer.cancel()
        for proxy in proxies:
            proxy.close()
        if self.engine is not None:
            _in_parallel([functools.partial(self._remove, cid) for cid in started])


def _in_parallel(tasks: list[Callable[[], None]]) -> None:
    """Container removals at once: an app that ignores SIGTERM (any PID 1 without a handler) takes the engine's
    whole stop timeout, and one after another those add up."""
    threads = [threading.Thread(target=task, daemon=True) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def _listening(port: int) -> bool:
    """A TCP connect that stays open. Port forwarders (docker-proxy, rootlessport) accept at once and then drop the
    connection when the container does not listen, so an immediate EOF is not readiness."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.settimeout(0.3)
            try:
                return sock.recv(1) != b""
            except TimeoutError:
                return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------------------
# The surface
# ---------------------------------------------------------------------------------------------------------------


class CloudRun:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.runtime = Runtime(emulator)

    # -- state helpers -----------------------------------------------------------------------------------------
    def _table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.emulator.state.table(name)

    def _service_doc(self, project: str, location: str, service: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/services/{service}"
        with self.emulator.state.lock:
            doc = self._table(SERVICES).get(name)
            if doc is None:
                raise _service_missing(project, location, service)
            return copy.deepcopy(doc)

    def _operation_name(self, project: str, location: str) -> str:
        return f"projects/{project}/locations/{location}/operations/{self.emulator.new_id()}"

    def _uri(self, service: str) -> str:
        project, location, service_id = _split_service(service)
        if self.emulator.engine is None:
            return f"{self.emulator.base_url}/_emulator/run/{project}/{location}/{service_id}"
        internal = self._table(INTERNAL).get(service, {})
        proxy = self.runtime.proxy(service, int(internal.get("proxyPort", 0)))
        internal["proxyPort"] = proxy.port
        return proxy.url

    def _tag_uri(self, service: str, tag: str) -> str:
        project, location, service_id = _split_service(service)
        # Google's tag URLs are https://TAG---SERVICE-…run.app; the no-engine route keeps that shape.
        return f"{self.emulator.base_url}/_emulator/run/{project}/{location}/{tag}---{service_id}"

    @staticmethod
    def _canonical(message_type: Any, doc: dict[str, Any]) -> dict[str, Any]:
        """The document as Google would print it (and proof that it is a valid message)."""
        return to_json(merge_json(message_type, doc))

    def _store_service(self, doc: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import run_v2

        doc = self._canonical(run_v2.Service, doc)
        self._table(SERVICES)[doc["name"]] = doc
        return doc

    def _store_revision(self, doc: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import run_v2

        doc = self._canonical(run_v2.Revision, doc)
        self._table(REVISIONS)[doc["name"]] = doc
        return doc

    def _new_revision_name(self, service: str, internal: dict[str, Any]) -> str:
        # Google's naming: SERVICE-NNNNN-xyz, NNNNN counting the service's revisions, xyz random
        # (e.g. "hello-00001-b5g", "api-00001-nps").
        internal["revisionCounter"] = int(internal.get("revisionCounter", 0)) + 1
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=3))
        return f"{_short(service)}-{internal['revisionCounter']:05d}-{suffix}"

    def _revision_doc(self, service_doc: dict[str, Any], revision_id: str, now: str) -> dict[str, Any]:
        template = service_doc["template"]
        name = f"{service_doc['name']}/revisions/{revision_id}"
        project, location, service_id = _split_service(service_doc["name"])
        doc: dict[str, Any] = {
            "name": name,
            "uid": _uuid(self.emulator),
            "generation": "1",
            "createTime": now,
            "updateTime": now,
            "launchStage": service_doc.get("launchStage", "GA"),
            "service": service_doc["name"],
            "reconciling": True,
            "observedGeneration": "1",
            "conditions": [
                {"type": t, "state": RECONCILING, "lastTransitionTime": now}
                for t in ("Ready", "ContainerHealthy", "ResourcesAvailable")
            ],
            "logUri": f"{self.emulator.base_url}/_emulator/run-logs/{project}/{location}/{service_id}/{revision_id}",
            "etag": _etag(),
        }
        if service_doc.get("lastModifier"):
            doc["creator"] = service_doc["lastModifier"]
        for key in _TEMPLATE_TO_REVISION:
            if key in template:
                doc[key] = copy.deepcopy(template[key])
        return doc

    # -- services ----------------------------------------------------------------------------------------------
    def create_service(self, req: Request, project: str, location: str) -> dict[str, Any]:
        from google.cloud import run_v2

        _check_query(req, {"serviceId", "validateOnly"})
        service_id = req.param("serviceId") or ""
        check_service_id(service_id, "CreateServiceRequest")
        spec = to_json(parse(run_v2.Service, req.body, field="service"))
        self.emulator.authorize(
            req, "run.services.create", f"projects/{project}/locations/{location}/services/{service_id}"
        )
        return self._create(req, project, location, service_id, spec, "CreateServiceRequest")

    def _create(
        self, req: Request, project: str, location: str, service_id: str, spec: dict[str, Any], request: str
    ) -> dict[str, Any]:
        number = self.emulator.project_number(project)
        desired = normalize_service(spec, f"{request}.service", service_id=service_id, project_number=number)
        self._authorize_act_as(req, project, desired)
        name = f"projects/{project}/locations/{location}/services/{service_id}"
        now = _now()
        who = _caller_email(req.caller)
        doc: dict[str, Any] = {
            **desired,
            "name": name,
            "uid": _uuid(self.emulator),
            "generation": "1",
            "createTime": now,
            "updateTime": now,
            "etag": _etag(),
            "reconciling": True,
            "terminalCondition": {"type": "Ready", "state": RECONCILING, "lastTransitionTime": now},
            "conditions": _reconciling_conditions(now),
        }
        if who:
            doc["creator"] = doc["lastModifier"] = who
        if req.flag("validateOnly"):
            # "validated and default values populated, without persisting the request or creating any resources"
            return _done_operation(self._operation_name(project, location), SERVICE_TYPE, doc)
        with self.emulator.mutation():
            if name in self._table(SERVICES):
                # Google: "Resource 'cloudrun-srv' already exists." (409), e.g. in
                # https://github.com/GoogleCloudPlatform/terraform-google-log-analysis/issues/25
                raise already_exists(f"Resource '{service_id}' already exists.")
            internal: dict[str, Any] = {"revisionCounter": 0, "templates": {}}
            self._table(INTERNAL)[name] = internal
            revision_id = desired["template"].get("revision") or self._new_revision_name(name, internal)
            if desired["template"].get("revision"):
                internal["revisionCounter"] = 1
            internal["templates"][revision_id] = desired["template"]
            doc["uri"] = self._uri(name)
            doc["urls"] = [doc["uri"]]
            doc["latestCreatedRevision"] = f"{name}/revisions/{revision_id}"
            doc = self._store_service(doc)
            self._store_revision(self._revision_doc(doc, revision_id, now))
        return self._start(project, location, doc, doc["latestCreatedRevision"])

    def _authorize_act_as(self, req: Request, project: str, desired: dict[str, Any]) -> None:
        """Deploying a revision that runs as a service account (the Compute Engine default one when none is named)
        needs iam.serviceAccounts.actAs on it (https://cloud.google.com/run/docs/securing/service-identity)."""
        account = desired["template"]["serviceAccount"]
        self.emulator.authorize(req, "iam.serviceAccounts.actAs", f"projects/{project}/serviceAccounts/{account}")

    def _start(self, project: str, location: str, doc: dict[str, Any], new_revision: str | None) -> dict[str, Any]:
        name, uid, generation = doc["name"], doc["uid"], int(doc["generation"])

        def work(handle: OperationHandle) -> dict[str, Any]:
            return self._reconcile(name, uid, generation, new_revision)

        return self.emulator.start_operation(
            self._operation_name(project, location), {"@type": SERVICE_TYPE, **doc}, work
        )

    def get_service(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        _check_query(req, set())
        self.emulator.authorize(req, "run.services.get", f"projects/{project}/locations/{location}/services/{service}")
        return self._service_doc(project, location, service)

    def list_services(self, req: Request, project: str, location: str) -> dict[str, Any]:
        _check_query(req, {"pageSize", "pageToken", "showDeleted"})
        self.emulator.authorize(req, "run.services.list", f"projects/{project}/locations/{location}")
        prefix = f"projects/{project}/locations/{location}/services/"
        with self.emulator.state.lock:
            docs = [
                copy.deepcopy(doc)
                for name, doc in sorted(self._table(SERVICES).items())
                if name.startswith(prefix) or (location == "-" and name.startswith(f"projects/{project}/locations/"))
            ]
        return paginate(docs, req, key="services")

    def update_service(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        from google.cloud import run_v2

        _check_query(req, {"updateMask", "validateOnly", "allowMissing"})
        request = "UpdateServiceRequest"
        spec = to_json(parse(run_v2.Service, req.body, field="service"))
        name = f"projects/{project}/locations/{location}/services/{service}"
        with self.emulator.state.lock:
            exists = name in self._table(SERVICES)
        # An upsert of a missing service creates it: that takes run.services.create.
        self.emulator.authorize(
            req, "run.services.update" if exists or not req.flag("allowMissing") else "run.services.create", name
        )
        if not exists:
            if not req.flag("allowMissing"):
                raise _service_missing(project, location, service)
            # allow_missing=true makes UpdateService an upsert (run_v2 types/service.py, UpdateServiceRequest).
            check_service_id(service, request)
            return self._create(req, project, location, service, spec, request)
        number = self.emulator.project_number(project)
        with self.emulator.mutation():
            current = self._table(SERVICES).get(name)
            if current is None:
                raise _service_missing(project, location, service)
            given_etag = spec.get("etag", "")
            if given_etag and given_etag != current.get("etag"):
                # AIP-154: a stale etag is ABORTED (409). Unconfirmed wording.
                raise ApiError(
                    "ABORTED",
                    f"The etag '{given_etag}' does not match the service's current etag: it was modified since it "
                    "was read. Read it again and retry.",
                )
            merged = _apply_mask(desired_state(current), desired_state(spec), req.param("updateMask"))
            desired = normalize_service(merged, f"{request}.service", service_id=service, project_number=number)
            self._authorize_act_as(req, project, desired)
            if req.flag("validateOnly"):
                preview = {**{k: v for k, v in current.items() if k in _OUTPUT_ONLY}, **desired}
                return _done_operation(self._operation_name(project, location), SERVICE_TYPE, preview)
            if desired == desired_state(current):
                # Nothing in the desired state changes: no new generation, no new revision (Kubernetes semantics,
                # which Cloud Run keeps: gcloud adds a nonce annotation to force a revision for the same image).
                unchanged = copy.deepcopy(current)
                return self.emulator.start_operation(
                    self._operation_name(project, location),
                    {"@type": SERVICE_TYPE, **unchanged},
                    lambda handle: {"@type": SERVICE_TYPE, **self._service_doc(project, location, service)},
                )
            internal = self._table(INTERNAL).setdefault(name, {"revisionCounter": 0, "templates": {}})
            new_revision: str | None = None
            if desired["template"] != current["template"]:
                named = desired["template"].get("revision", "")
                if named and f"{name}/revisions/{named}" in self._table(REVISIONS):
                    if internal["templates"].get(named) != desired["template"]:
                        # 409 "Revision named '…' with different configuration already exists."
                        # (https://github.com/googleapis/google-cloud-python/issues/14259)
                        raise already_exists(f"Revision named '{named}' with different configuration already exists.")
                else:
                    revision_id = named or self._new_revision_name(name, internal)
                    if named:
                        internal["revisionCounter"] = int(internal.get("revisionCounter", 0)) + 1
                    internal["templates"][revision_id] = desired["template"]
                    new_revision = f"{name}/revisions/{revision_id}"
            now = _now()
            outputs = {k: v for k, v in current.items() if k in _OUTPUT_ONLY}
            doc = {
                **outputs,
                **desired,
                "generation": str(int(current["generation"]) + 1),
                "updateTime": now,
                "etag": _etag(),
                "reconciling": True,
                "terminalCondition": {"type": "Ready", "state": RECONCILING, "lastTransitionTime": now},
                "conditions": _reconciling_conditions(now),
            }
            who = _caller_email(req.caller)
            if who:
                doc["lastModifier"] = who
            if new_revision:
                doc["latestCreatedRevision"] = new_revision
            doc = self._store_service(doc)
            if new_revision:
                self._store_revision(self._revision_doc(doc, _short(new_revision), now))
        return self._start(project, location, doc, new_revision)

    def delete_service(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        _check_query(req, {"validateOnly", "etag"})
        name = f"projects/{project}/locations/{location}/services/{service}"
        self.emulator.authorize(req, "run.services.delete", name)
        with self.emulator.mutation():
            doc = copy.deepcopy(self._table(SERVICES).get(name))
            if doc is None:
                raise _service_missing(project, location, service)
            etag = req.param("etag")
            if etag and etag != doc.get("etag"):
                raise ApiError("ABORTED", f"The etag '{etag}' does not match the service's current etag.")
            if req.flag("validateOnly"):
                return _done_operation(self._operation_name(project, location), SERVICE_TYPE, doc)
            del self._table(SERVICES)[name]
            for revision in [r for r in self._table(REVISIONS) if r.startswith(name + "/revisions/")]:
                del self._table(REVISIONS)[revision]
            self._table(POLICIES).pop(name, None)
            self._table(INTERNAL).pop(name, None)
            doc["deleteTime"] = _now()
            doc = self._canonical_service(doc)

        def work(handle: OperationHandle) -> dict[str, Any]:
            # After any deploy still in flight: it aborts on the missing service, and what it started goes too.
            with self.runtime.service_lock(name):
                self.runtime.teardown(name)
            return {"@type": SERVICE_TYPE, **doc}

        return self.emulator.start_operation(
            self._operation_name(project, location), {"@type": SERVICE_TYPE, **doc}, work
        )

    def _canonical_service(self, doc: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import run_v2

        return self._canonical(run_v2.Service, doc)

    # -- reconciliation ----------------------------------------------------------------------------------------
    def _reconcile(self, name: str, uid: str, generation: int, new_revision: str | None) -> dict[str, Any]:
        with self.runtime.service_lock(name):
            return self._reconcile_locked(name, uid, generation, new_revision)

    def _current(self, name: str, uid: str) -> dict[str, Any]:
        with self.emulator.state.lock:
            doc = self._table(SERVICES).get(name)
            if doc is None or doc.get("uid") != uid:
                raise ApiError("ABORTED", f"Service {_short(name)} was deleted while it was being deployed.")
            return copy.deepcopy(doc)

    def _reconcile_locked(self, name: str, uid: str, generation: int, new_revision: str | None) -> dict[str, Any]:
        if new_revision is not None:
            with self.emulator.state.lock:
                revision = copy.deepcopy(self._table(REVISIONS).get(new_revision))
            if revision is None:
                raise ApiError("ABORTED", f"Revision {_short(new_revision)} was deleted while it was being deployed.")
            try:
                self.runtime.ensure(revision)
            except RevisionFailed as failure:
                self._revision_failed(new_revision, failure)
                message = failure.message(_short(new_revision))
                self._service_failed(name, uid, generation, message, revision_failed=True)
                raise ApiError(failure.status, message) from None
            self._revision_ready(new_revision)
        doc = self._current(name, uid)
        if new_revision is not None:
            doc["latestReadyRevision"] = new_revision
        latest_ready = doc.get("latestReadyRevision", "")
        revisions = self._table(REVISIONS)
        weighted: dict[str, int] = {}
        tagged: dict[str, str] = {}
        statuses: list[dict[str, Any]] = []
        for target in doc["traffic"]:
            if target["type"] == LATEST:
                revision_name = latest_ready
                if not revision_name:
                    created = _short(doc.get("latestCreatedRevision", ""))
                    message = f"Revision '{created}' is not ready and cannot serve traffic."
                    self._service_failed(name, uid, generation, message, revision_failed=False)
                    raise ApiError("FAILED_PRECONDITION", message)
            else:
                revision_name = f"{name}/revisions/{target['revision']}"
                with self.emulator.state.lock:
                    target_doc = revisions.get(revision_name)
                if target_doc is None:
                    message = _TRAFFIC_REVISION_MISSING.format(revision=target["revision"])
                    self._service_failed(name, uid, generation, message, revision_failed=False)
                    raise ApiError("INTERNAL", message)
                if _condition(target_doc, "Ready") != SUCCEEDED:
                    message = f"Revision '{target['revision']}' is not ready and cannot serve traffic."
                    self._service_failed(name, uid, generation, message, revision_failed=False)
                    raise ApiError("FAILED_PRECONDITION", message)
            percent = int(target.get("percent", 0))
            if percent:
                weighted[revision_name] = weighted.get(revision_name, 0) + percent
            if target.get("tag"):
                tagged[target["tag"]] = revision_name
            status = {k: v for k, v in target.items() if k in ("type", "revision", "percent", "tag")}
            statuses.append(status)
        targets: dict[str, Target] = {}
        for revision_name in {*weighted, *tagged.values()}:
            with self.emulator.state.lock:
                revision = copy.deepcopy(revisions.get(revision_name))
            if revision is None:
                continue
            try:
                targets[revision_name] = self.runtime.ensure(revision)
            except RevisionFailed as failure:
                message = failure.message(_short(revision_name))
                self._service_failed(name, uid, generation, message, revision_failed=False)
                raise ApiError(failure.status, message) from None
        with self.emulator.mutation():
            internal = self._table(INTERNAL).setdefault(name, {"revisionCounter": 0, "templates": {}})
            if self.emulator.engine is not None:
                tag_ports = {tag: int(port) for tag, port in internal.get("tagPorts", {}).items()}
                tag_urls = self.runtime.route(
                    name,
                    [(targets[r], p) for r, p in weighted.items() if r in targets],
                    {tag: targets[r] for tag, r in tagged.items() if r in targets},
                    tag_ports,
                )
                internal["tagPorts"] = {tag: int(url.rsplit(":", 1)[1]) for tag, url in tag_urls.items()}
            else:
                tag_urls = {tag: self._tag_uri(name, tag) for tag in tagged}
            for status in statuses:
                if status.get("tag"):
                    status["uri"] = tag_urls[status["tag"]]
            stored = self._table(SERVICES).get(name)
            if stored is None or stored.get("uid") != uid:
                raise ApiError("ABORTED", f"Service {_short(name)} was deleted while it was being deployed.")
            now = _now()
            stored = copy.deepcopy(stored)
            stored["latestReadyRevision"] = latest_ready
            stored["trafficStatuses"] = statuses
            stored["observedGeneration"] = str(generation)
            if int(stored["generation"]) == generation:
                stored["reconciling"] = False
                stored["terminalCondition"] = {"type": "Ready", "state": SUCCEEDED, "lastTransitionTime": now}
                stored["conditions"] = [
                    {"type": "RoutesReady", "state": SUCCEEDED, "lastTransitionTime": now},
                    {"type": "ConfigurationsReady", "state": SUCCEEDED, "lastTransitionTime": now},
                ]
            stored = self._store_service(stored)
        self.runtime.activate(name, set(targets))
        return {"@type": SERVICE_TYPE, **stored}

    def _revision_ready(self, name: str) -> None:
        now = _now()
        with self.emulator.mutation():
            doc = self._table(REVISIONS).get(name)
            if doc is None:
                return
            doc = copy.deepcopy(doc)
            doc["reconciling"] = False
            doc["updateTime"] = now
            doc["conditions"] = [
                {"type": t, "state": SUCCEEDED, "lastTransitionTime": now}
                for t in ("Ready", "ContainerHealthy", "ResourcesAvailable")
            ]
            self._store_revision(doc)

    def _revision_failed(self, name: str, failure: RevisionFailed) -> None:
        now = _now()
        with self.emulator.mutation():
            doc = self._table(REVISIONS).get(name)
            if doc is None:
                return
            doc = copy.deepcopy(doc)
            message = failure.summary
            if failure.health:
                message += f"\n\nLogs URL: {doc.get('logUri', '')}\n{_PORT_GUIDE}"
            if failure.detail:
                message += f"\n\n{failure.detail}"
            ready: dict[str, Any] = {
                "type": "Ready",
                "state": FAILED,
                "message": message,
                "lastTransitionTime": now,
                "severity": "ERROR",
            }
            if failure.reason:
                ready["reason"] = failure.reason
            healthy: dict[str, Any] = {"type": "ContainerHealthy", "lastTransitionTime": now}
            resources: dict[str, Any] = {"type": "ResourcesAvailable", "lastTransitionTime": now}
            if failure.health:
                healthy.update(
                    state=FAILED, message=message, revisionReason="HEALTH_CHECK_CONTAINER_ERROR", severity="ERROR"
                )
                resources.update(state=SUCCEEDED)
            else:
                healthy.update(state=RECONCILING)
                resources.update(state=FAILED, message=message, severity="ERROR")
                if failure.reason:
                    resources["reason"] = failure.reason
            doc["reconciling"] = False
            doc["updateTime"] = now
            doc["conditions"] = [ready, healthy, resources]
            self._store_revision(doc)

    def _service_failed(self, name: str, uid: str, generation: int, message: str, *, revision_failed: bool) -> None:
        """Google keeps the serving state of the last good revision: traffic_statuses, observed_generation and
        latest_ready_revision stay (run_v2 types/service.py, Service.reconciling); the conditions say why."""
        now = _now()
        with self.emulator.mutation():
            doc = self._table(SERVICES).get(name)
            if doc is None or doc.get("uid") != uid:
                return
            doc = copy.deepcopy(doc)
            if int(doc["generation"]) == generation:
                doc["reconciling"] = False
            doc["terminalCondition"] = {
                "type": "Ready",
                "state": FAILED,
                "message": message,
                "lastTransitionTime": now,
                "severity": "ERROR",
            }
            routes = {
                "type": "RoutesReady",
                "state": FAILED,
                "message": message,
                "lastTransitionTime": now,
                "severity": "ERROR",
            }
            configurations: dict[str, Any] = {"type": "ConfigurationsReady", "lastTransitionTime": now}
            if revision_failed:
                configurations.update(state=FAILED, message=message, reason="REVISION_FAILED", severity="ERROR")
            else:
                configurations.update(state=SUCCEEDED)
            doc["conditions"] = [routes, configurations]
            self._store_service(doc)

    # -- revisions ---------------------------------------------------------------------------------------------
    def list_revisions(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        _check_query(req, {"pageSize", "pageToken", "showDeleted"})
        self.emulator.authorize(
            req, "run.revisions.list", f"projects/{project}/locations/{location}/services/{service}"
        )
        self._service_doc(project, location, service)
        prefix = f"projects/{project}/locations/{location}/services/{service}/revisions/"
        with self.emulator.state.lock:
            docs = [copy.deepcopy(d) for n, d in self._table(REVISIONS).items() if n.startswith(prefix)]
        docs.sort(key=lambda d: d["createTime"], reverse=True)  # newest first, as the console and gcloud show them
        return paginate(docs, req, key="revisions")

    def get_revision(self, req: Request, project: str, location: str, service: str, revision: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/services/{service}/revisions/{revision}"
        self.emulator.authorize(req, "run.revisions.get", name)
        with self.emulator.state.lock:
            doc = self._table(REVISIONS).get(name)
            if doc is None:
                raise _revision_missing(project, location, revision)
            return copy.deepcopy(doc)

    def delete_revision(self, req: Request, project: str, location: str, service: str, revision: str) -> dict[str, Any]:
        _check_query(req, {"validateOnly", "etag"})
        service_name = f"projects/{project}/locations/{location}/services/{service}"
        name = f"{service_name}/revisions/{revision}"
        self.emulator.authorize(req, "run.revisions.delete", name)
        with self.emulator.mutation():
            doc = copy.deepcopy(self._table(REVISIONS).get(name))
            if doc is None:
                raise _revision_missing(project, location, revision)
            owner = self._table(SERVICES).get(service_name, {})
            serving = {
                s.get("revision") or _short(owner.get("latestReadyRevision", ""))
                for s in owner.get("trafficStatuses", [])
                if s.get("percent") or s.get("tag")
            }
            # Cloud Run refuses to delete a revision that can receive traffic or is the latest one
            # (https://cloud.google.com/run/docs/managing/revisions#delete). Unconfirmed wording.
            if revision in serving:
                raise ApiError(
                    "FAILED_PRECONDITION", f"Revision {revision} is receiving traffic and cannot be deleted."
                )
            if owner.get("latestCreatedRevision") == name:
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Revision {revision} is the latest revision of service {service} and cannot be deleted.",
                )
            etag = req.param("etag")
            if etag and etag != doc.get("etag"):
                raise ApiError("ABORTED", f"The etag '{etag}' does not match the revision's current etag.")
            if req.flag("validateOnly"):
                return _done_operation(self._operation_name(project, location), REVISION_TYPE, doc)
            del self._table(REVISIONS)[name]
            doc["deleteTime"] = _now()

        def work(handle: OperationHandle) -> dict[str, Any]:
            self.runtime.stop(name)
            return {"@type": REVISION_TYPE, **doc}

        return self.emulator.start_operation(
            self._operation_name(project, location), {"@type": REVISION_TYPE, **doc}, work
        )

    # -- operations --------------------------------------------------------------------------------------------
    def _run_operation(self, project: str, location: str, operation: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        try:
            found = self.emulator.get_operation(name)
        except ApiError:
            found = None
        if found is None or not str(found.get("metadata", {}).get("@type", "")).startswith(
            "type.googleapis.com/google.cloud.run.v2."
        ):
            raise not_found(f"Operation '{name}' not found.")
        return found

    def get_operation(self, req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        self.emulator.authorize(req, "run.operations.get", name)
        return self._run_operation(project, location, operation)

    def wait_operation(self, req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        self.emulator.authorize(req, "run.operations.get", name)
        self._run_operation(project, location, operation)
        body = req.json()
        timeout = body.get("timeout")
        unknown = set(body) - {"timeout", "name"}
        if unknown:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.'
            )
        try:
            wait_s = _duration_s(str(timeout)) if timeout else 60.0
        except ValueError as exc:
            raise invalid_argument(
                f"Invalid value at 'timeout' (type.googleapis.com/google.protobuf.Duration), \"{timeout}\""
            ) from exc
        return self.emulator.wait_operation(
            f"projects/{project}/locations/{location}/operations/{operation}", min(wait_s, 600.0)
        )

    def list_operations(self, req: Request, project: str, location: str) -> dict[str, Any]:
        _check_query(req, {"filter", "pageSize", "pageToken", "returnPartialSuccess"})
        self.emulator.authorize(req, "run.operations.list", f"projects/{project}/locations/{location}")
        prefix = f"projects/{project}/locations/{location}/operations/"
        with self.emulator.state.lock:
            operations = [
                copy.deepcopy(op)
                for name, op in sorted(self._table("operations").items())
                if name.startswith(prefix)
                and str(op.get("metadata", {}).get("@type", "")).startswith("type.googleapis.com/google.cloud.run.v2.")
            ]
        return paginate(operations, req, key="operations")

    def delete_operation(self, req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        _check_query(req, set())
        name = f"projects/{project}/locations/{location}/operations/{operation}"
        self.emulator.authorize(req, "run.operations.delete", name)
        self._run_operation(project, location, operation)
        with self.emulator.mutation():
            self._table("operations").pop(f"projects/{project}/locations/{location}/operations/{operation}", None)
        return {}

    # -- IAM ---------------------------------------------------------------------------------------------------
    def get_iam_policy(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        _check_query(req, {"options.requestedPolicyVersion"})
        version = req.param("options.requestedPolicyVersion", "0") or "0"
        if version not in ("0", "1", "3"):
            raise invalid_argument(f"Invalid requested policy version: {version}. Valid values are 0, 1 and 3.")
        self.emulator.authorize(
            req, "run.services.getIamPolicy", f"projects/{project}/locations/{location}/services/{service}"
        )
        doc = self._service_doc(project, location, service)
        with self.emulator.state.lock:
            policy = self._table(POLICIES).get(doc["name"])
            return copy.deepcopy(policy) if policy else {"version": 1, "etag": _EMPTY_POLICY_ETAG}

    def set_iam_policy(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        from google.iam.v1 import iam_policy_pb2
        from google.protobuf import json_format

        _check_query(req, set())
        request = iam_policy_pb2.SetIamPolicyRequest()
        _parse_pb(req.body, request, "policy")
        policy = json_format.MessageToDict(request.policy)
        bindings = _normalize_bindings(policy.get("bindings", []))
        self.emulator.authorize(
            req, "run.services.setIamPolicy", f"projects/{project}/locations/{location}/services/{service}"
        )
        name = self._service_doc(project, location, service)["name"]
        with self.emulator.mutation():
            current = self._table(POLICIES).get(name) or {"version": 1, "etag": _EMPTY_POLICY_ETAG}
            given = base64.b64encode(request.policy.etag).decode() if request.policy.etag else ""
            if given and given != current["etag"]:
                raise ApiError("ABORTED", _IAM_CONFLICT)
            new: dict[str, Any] = {
                "version": 3 if any("condition" in b for b in bindings) else 1,
                "etag": _policy_etag(),
            }
            if bindings:
                new["bindings"] = bindings
            self._table(POLICIES)[name] = new
            return copy.deepcopy(new)

    def test_iam_permissions(self, req: Request, project: str, location: str, service: str) -> dict[str, Any]:
        from google.iam.v1 import iam_policy_pb2

        _check_query(req, set())
        request = iam_policy_pb2.TestIamPermissionsRequest()
        _parse_pb(req.body, request, "permissions")
        self._service_doc(project, location, service)
        for permission in request.permissions:
            if "*" in permission:
                # IAM rejects wildcards in permission checks.
                raise invalid_argument(f"Permissions ('{permission}') with wildcards (*) are not allowed.")
        if self.emulator.enforcer is not None:
            held = iam.permissions_held(
                self.emulator,
                req,
                list(request.permissions),
                f"projects/{project}/locations/{location}/services/{service}",
            )
            return {"permissions": held} if held else {}
        # The open world makes the caller the project's owner: every Cloud Run permission on the service is held.
        held = [p for p in request.permissions if _RUN_PERMISSION_RE.fullmatch(p)]
        return {"permissions": held} if held else {}

    # -- what the service's URL shows without a container engine ----------------------------------------------
    def not_served(self, req: Request, project: str, location: str, service: str, rest: str = "") -> Response:
        tag = ""
        if "---" in service:
            tag, service = service.split("---", 1)
        name = f"projects/{project}/locations/{location}/services/{service}"
        with self.emulator.state.lock:
            doc = self._table(SERVICES).get(name)
        if doc is None:
            text = (
                f"There is no Cloud Run service '{service}' in project {project}, region {location} in this emulator."
            )
            return Response(404, (text + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8"})
        images = ", ".join(c["image"] for c in doc["template"]["containers"])
        what = f"tag '{tag}' of Cloud Run service '{service}'" if tag else f"Cloud Run service '{service}'"
        text = (
            f"503: the {what} (project {project}, region {location}) exists in the emulator, but nothing serves it: "
            f"its image ({images}) was not run because this emulator has no container engine. "
            "Install podman or docker and restart the emulator to run it for real.\n"
        )
        return Response(503, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})

    def revision_logs(self, req: Request, project: str, location: str, service: str, revision: str) -> Response:
        name = f"projects/{project}/locations/{location}/services/{service}/revisions/{revision}"
        logs = self.runtime.logs_of(name)
        if logs is None:
            with self.emulator.state.lock:
                known = name in self._table(REVISIONS)
            text = "This revision has not run a container: there are no logs." if known else "No such revision."
            return Response(
                200 if known else 404, (text + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8"}
            )
        return Response(200, (logs + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8"})

    # -- after a restart ---------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Services persisted by an earlier run: URLs point at this process, and what served traffic runs again."""
        deadline = time.monotonic() + 60
        while not self.emulator.base_url and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.emulator.mutation():
            for operation in self._table("operations").values():
                run_op = str(operation.get("metadata", {}).get("@type", "")).startswith(
                    "type.googleapis.com/google.cloud.run.v2."
                )
                if run_op and not operation.get("done"):
                    operation.update(
                        done=True, error={"code": 10, "message": "The emulator restarted while this operation ran."}
                    )
            names = list(self._table(SERVICES))
        for name in names:
            try:
                with self.emulator.mutation():
                    doc = copy.deepcopy(self._table(SERVICES).get(name))
                    if doc is None:
                        continue
                    doc["uri"] = self._uri(name)
                    doc["urls"] = [doc["uri"]]
                    if doc.get("reconciling"):
                        doc["reconciling"] = False
                        doc["terminalCondition"] = {
                            "type": "Ready",
                            "state": FAILED,
                            "lastTransitionTime": _now(),
                            "message": "The emulator restarted while this service was deployed.",
                        }
                    self._store_service(doc)
                if doc.get("trafficStatuses"):
                    self._reconcile(name, doc["uid"], int(doc.get("observedGeneration") or doc["generation"]), None)
            except (ApiError, OSError):
                continue  # the URL answers 503 until the next deploy


def _uuid(emulator: Emulator) -> str:
    raw = emulator.new_id()
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:32]}"


def _reconciling_conditions(now: str) -> list[dict[str, Any]]:
    return [
        {"type": t, "state": RECONCILING, "lastTransitionTime": now} for t in ("RoutesReady", "ConfigurationsReady")
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


def _parse_pb(body: bytes, message: Any, field: str) -> None:
    from google.protobuf import json_format

    try:
        json_format.Parse(body.decode() or "{}", message, ignore_unknown_fields=False)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        text = f"Invalid JSON payload received. {exc}"
        raise invalid_argument(text, field=field, description=text) from exc


def _normalize_bindings(bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """IAM keeps one binding per role (and condition), without duplicate members, and drops empty bindings."""
    merged: dict[str, dict[str, Any]] = {}
    for index, binding in enumerate(bindings):
        role = binding.get("role", "")
        if not role:
            raise invalid_argument(f"Policy binding {index} has no role.", field=f"policy.bindings[{index}].role")
        if role.startswith("roles/") and not (role.startswith("roles/run.") or role in _IAM_BASIC_ROLES):
            # Unconfirmed wording; the rule: only roles that grant Cloud Run permissions apply to a service.
            raise invalid_argument(f"Role {role} is not supported for this resource.")
        if not role.startswith(("roles/", "projects/", "organizations/")):
            raise invalid_argument(f"Role {role} does not exist in the resource's hierarchy.")
        for member in binding.get("members", []):
            if not _IAM_MEMBER_RE.fullmatch(member):
                # Unconfirmed wording.
                raise invalid_argument(
                    f"Invalid member: '{member}'. A member is allUsers, allAuthenticatedUsers or a prefixed identity "
                    "(user:, serviceAccount:, group:, domain:, principal:, principalSet:)."
                )
        key = json.dumps([role, binding.get("condition")], sort_keys=True)
        entry = merged.setdefault(key, {"role": role, "members": []})
        if "condition" in binding:
            entry["condition"] = binding["condition"]
        for member in binding.get("members", []):
            if member not in entry["members"]:
                entry["members"].append(member)
    return [b for b in merged.values() if b["members"]]


def register(emulator: Emulator) -> None:
    run = CloudRun(emulator)
    emulator.settings.setdefault(
        "run_idle_revision_remove_s", 30.0
    )  # how long a revision without traffic keeps running
    emulator.shutdown_hooks.append(run.runtime.close)
    router = emulator.router
    base = "/v2/projects/{project}/locations/{location}"
    router.add("POST", f"{base}/services", run.create_service)
    router.add("GET", f"{base}/services", run.list_services)
    router.add("GET", f"{base}/services/{{service}}", run.get_service)
    router.add("PATCH", f"{base}/services/{{service}}", run.update_service)
    router.add("DELETE", f"{base}/services/{{service}}", run.delete_service)
    router.add("GET", f"{base}/services/{{service}}:getIamPolicy", run.get_iam_policy)
    router.add("POST", f"{base}/services/{{service}}:setIamPolicy", run.set_iam_policy)
    router.add("POST", f"{base}/services/{{service}}:testIamPermissions", run.test_iam_permissions)
    router.add("GET", f"{base}/services/{{service}}/revisions", run.list_revisions)
    router.add("GET", f"{base}/services/{{service}}/revisions/{{revision}}", run.get_revision)
    router.add("DELETE", f"{base}/services/{{service}}/revisions/{{revision}}", run.delete_revision)
    router.add("GET", f"{base}/operations", run.list_operations)
    router.add("GET", f"{base}/operations/{{operation}}", run.get_operation)
    router.add("DELETE", f"{base}/operations/{{operation}}", run.delete_operation)
    router.add("POST", f"{base}/operations/{{operation}}:wait", run.wait_operation)
    router.add("GET", "/_emulator/run-logs/{project}/{location}/{service}/{revision}", run.revision_logs)
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        router.add(method, "/_emulator/run/{project}/{location}/{service}", run.not_served)
        router.add(method, "/_emulator/run/{project}/{location}/{service}/{rest=**}", run.not_served)
    with emulator.state.lock:
        persisted = bool(emulator.state.table(SERVICES))
    if persisted:
        emulator.spawn(run.restore, "run restore")
