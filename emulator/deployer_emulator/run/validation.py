"""A Service body's checks and Google's defaults: ids, labels, template, containers, resources, traffic."""

from __future__ import annotations

import copy
from typing import Any

from deployer_emulator.run.base import (
    _GPU_ACCELERATORS,
    _GPU_KEY,
    _GPU_REGIONS,
    _IMAGE_HOST_RULE,
    _IMAGE_PATH_RE,
    _MEMORY_BOUNDS,
    _RESERVED_ENV,
    _RESERVED_KEY_NAMESPACES,
    _REVISION_NAME_RE,
    _SERVICE_ID_RE,
    _SERVICE_ID_RULE,
    _TAG_RE,
    _WHOLE_CPUS,
    BY_REVISION,
    LATEST,
    _duration_s,
    _memory_text,
    _parse_cpu,
    _parse_memory,
    _violation,
)

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


def normalize_service(
    spec: dict[str, Any], path: str, *, service_id: str, project_number: str, location: str | None = None
) -> dict[str, Any]:
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
    desired["template"] = _normalize_template(template, f"{path}.template", service_id, project_number, location)
    desired["traffic"] = _normalize_traffic(desired.get("traffic") or [], f"{path}.traffic")
    scaling = desired.get("scaling") or {}
    low, high = scaling.get("minInstanceCount", 0), scaling.get("maxInstanceCount", 0)
    if low < 0 or high < 0 or (high and low > high):
        raise _violation(f"{path}.scaling", "min_instance_count must be less than or equal to max_instance_count.")
    return desired


def _normalize_template(
    template: dict[str, Any], path: str, service_id: str, project_number: str, location: str | None
) -> dict[str, Any]:
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
    accelerator = (template.get("nodeSelector") or {}).get("accelerator", "")
    total_cpu = 0.0
    for index, container in enumerate(containers):
        containers[index], cpu = _normalize_container(
            container, f"{path}.containers[{index}]", index == ingress, accelerator
        )
        total_cpu += cpu
    template["containers"] = containers
    check_gpu_template(template, path, region=location, kind="service")
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
    return template


def _normalize_container(
    container: dict[str, Any], path: str, ingress: bool, accelerator: str = ""
) -> tuple[dict[str, Any], float]:
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
    # An RTX PRO 6000 instance is larger than any CPU-only one (at least 20 CPU and 80 GiB, check_gpu_template's).
    large = accelerator == "nvidia-rtx-pro-6000" and cpu is not None and cpu.is_integer() and cpu > 8
    if cpu is None or not (large or 0.08 <= cpu < 1 or cpu in _WHOLE_CPUS):
        raise _violation(
            f"{path}.resources.limits",
            f"Invalid value specified for cpu: '{limits['cpu']}'. Supported values are between 0.08 and 1, "
            "or 1, 2, 4, 6 or 8.",  # unconfirmed wording
        )
    memory = _parse_memory(limits["memory"])
    if memory is None:
        raise _violation(f"{path}.resources.limits", f"Invalid value specified for memory: '{limits['memory']}'.")
    for up_to, most, least in () if large else _MEMORY_BOUNDS:
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
    container["resources"] = resources
    if ingress and "startupProbe" not in container:
        # The default startup probe Google reports: TCP on the container port, once, with 240 s.
        container["startupProbe"] = {
            "timeoutSeconds": 240,
            "periodSeconds": 240,
            "failureThreshold": 1,
            "tcpSocket": {"port": container["ports"][0]["containerPort"]},
        }
    return container, cpu


def check_gpu_template(template: dict[str, Any], path: str, *, region: str | None, kind: str) -> None:
    """Cloud Run's GPU rules on a RevisionTemplate (``kind`` "service") or a TaskTemplate ("job"), both of which
    carry ``containers``, ``nodeSelector`` and ``gpuZonalRedundancyDisabled`` (run_v2 ``RevisionTemplate`` fields 21
    and 24, ``TaskTemplate`` 11 and 12): the accelerator's name and regions, one GPU on one container, the
    accelerator's least CPU and memory, and instance-based billing for services. Wording unconfirmed unless quoted."""
    containers = template.get("containers") or []
    accelerator = (template.get("nodeSelector") or {}).get("accelerator", "")
    with_gpu = [i for i, c in enumerate(containers) if _GPU_KEY in ((c.get("resources") or {}).get("limits") or {})]
    if with_gpu and not accelerator:
        # The rule: a GPU needs node_selector.accelerator (https://cloud.google.com/run/docs/configuring/services/gpu).
        raise _violation(f"{path}.node_selector.accelerator", "required when a container requests nvidia.com/gpu.")
    if not accelerator:
        if template.get("gpuZonalRedundancyDisabled"):
            raise _violation(f"{path}.gpu_zonal_redundancy_disabled", "may only be set with a GPU.")
        return
    if accelerator not in _GPU_ACCELERATORS:
        raise _violation(
            f"{path}.node_selector.accelerator",
            f"unsupported accelerator '{accelerator}'; supported: {', '.join(sorted(_GPU_ACCELERATORS))}.",
        )
    if region is not None and region not in _GPU_REGIONS[accelerator]:
        raise _violation(
            f"{path}.node_selector.accelerator",
            f"accelerator '{accelerator}' is not supported in region {region}; supported regions: "
            f"{', '.join(_GPU_REGIONS[accelerator])}.",
        )
    if not with_gpu:
        raise _violation(f"{path}.node_selector.accelerator", "requires a container with an nvidia.com/gpu limit.")
    if len(with_gpu) > 1:
        # "If you use sidecar containers, note that the GPU can only be attached to one container." (services/gpu)
        raise _violation(f"{path}.containers", "only one container may request nvidia.com/gpu.")
    index = with_gpu[0]
    resources = containers[index]["resources"]
    limits = resources["limits"]
    if str(limits[_GPU_KEY]) != "1":
        # k8s.min.proto ResourceRequirements.limits: "The only supported 'nvidia.com/gpu' value is '1'."
        raise _violation(f"{path}.containers[{index}].resources.limits", f"{_GPU_KEY} must be 1: one GPU per instance.")
    # GPU services need instance-based billing (https://cloud.google.com/run/docs/configuring/services/gpu); an unset
    # cpu_idle with resources set is already instance-based (k8s.min.proto ResourceRequirements.cpu_idle).
    if kind == "service" and resources.get("cpuIdle", False):
        raise _violation(
            f"{path}.containers[{index}].resources.cpu_idle",
            "GPU requires CPU to be always allocated: set cpu_idle to false (instance-based billing).",
        )
    total_cpu = sum(_parse_cpu(str(c["resources"]["limits"]["cpu"])) or 0 for c in containers)
    memory = _parse_memory(str(limits["memory"])) or 0
    min_cpu, min_memory = _GPU_ACCELERATORS[accelerator]
    if total_cpu < min_cpu or memory < min_memory:
        raise _violation(
            f"{path}.containers[{index}].resources.limits",
            f"{accelerator} requires at least {min_cpu:g} CPU and {_memory_text(min_memory)} of memory.",
        )


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
