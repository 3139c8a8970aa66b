"""Cloud Run v2: the ``Service`` deployer owns part of, how a live one compares with it, its public access, and the
revision and traffic of a preview deploy.

Field meanings: https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp.bodies.iam import add_bindings
from deployer.gcp.bodies.labels import managed_by_label

INVOKER_ROLE = "roles/run.invoker"
PUBLIC_MEMBER = "allUsers"
LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
BY_REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
# Set by a preview deploy that had to pin the traffic that followed the latest revision (the preview becomes the
# latest); the value is the pinned revision. The next regular deploy gives that traffic back to the latest revision.
PREVIEW_PIN_LABEL = "deployer-preview-pinned"


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """What a Cloud Run service's and a job's container share, as deployer.toml owns it."""

    image: str  # image@sha256:digest, or image:tag in a dry run before the build
    env: tuple[tuple[str, str], ...]
    cpu: str
    memory: str
    timeout_s: int
    service_account: str = ""
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    gpu_type: str = ""  # a Cloud Run accelerator, e.g. "nvidia-l4"; "" for none
    gpu_zonal_redundancy: bool = True


@dataclass(frozen=True, kw_only=True)
class ServiceSpec(WorkloadSpec):
    """The part of a Cloud Run service that deployer.toml owns."""

    min_instances: int
    max_instances: int
    concurrency: int
    port: int
    startup_timeout_s: int | None = None  # None: Cloud Run's default startup probe


GPU_LIMIT = "nvidia.com/gpu"
# Probe every 10 s: a slow model load gets startup_timeout_s / 10 tries (periodSeconds <= 240, k8s.min.proto).
STARTUP_PROBE_PERIOD_S = 10


def gpu_fields(container: dict[str, Any], gpu_type: str, zonal_redundancy: bool) -> dict[str, Any]:
    """Attach one GPU to ``container`` (its ``resources.limits``) and return the template fields that pick the
    accelerator: RevisionTemplate and TaskTemplate both carry node_selector (NodeSelector.accelerator) and
    gpu_zonal_redundancy_disabled, as run_v2's types name them (camelCase on the wire); {} without a GPU."""
    if not gpu_type:
        return {}
    # k8s.min.proto ResourceRequirements.limits: "The only supported 'nvidia.com/gpu' value is '1'".
    container["resources"]["limits"][GPU_LIMIT] = "1"
    return {"nodeSelector": {"accelerator": gpu_type}, "gpuZonalRedundancyDisabled": not zonal_redundancy}


def _startup_probe(spec: ServiceSpec) -> dict[str, Any]:
    """A TCP startup probe on the port that waits ``startup_timeout_s``: Google's default (one check, 240 s) would
    kill a revision whose model takes minutes to load."""
    assert spec.startup_timeout_s is not None
    return {
        "tcpSocket": {"port": spec.port},
        "periodSeconds": STARTUP_PROBE_PERIOD_S,
        "timeoutSeconds": STARTUP_PROBE_PERIOD_S,
        "failureThreshold": max(1, spec.startup_timeout_s // STARTUP_PROBE_PERIOD_S),
    }


def service_body(spec: ServiceSpec) -> dict[str, Any]:
    """The owned fields of a Cloud Run v2 ``Service``, every one set explicitly.

    ``cpuIdle`` is always set: when ``resources`` is set and it is not, Cloud Run bills the service as instance-based
    (CPU always allocated), the cost trap in gcp-facts.md. Empty lists are sent too, so removing ``args`` in the
    config removes them from the service.
    """
    container: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command),
        "args": list(spec.args),
        "env": [{"name": name, "value": value} for name, value in spec.env],
        "ports": [{"containerPort": spec.port}],
        "resources": {"limits": {"cpu": spec.cpu, "memory": spec.memory}, "cpuIdle": True},
    }
    gpu = gpu_fields(container, spec.gpu_type, spec.gpu_zonal_redundancy)
    if spec.gpu_type:
        # Instance-based billing, which Cloud Run requires of a GPU service (services/gpu page).
        container["resources"]["cpuIdle"] = False
    if spec.startup_timeout_s is not None:
        container["startupProbe"] = _startup_probe(spec)
    template: dict[str, Any] = {
        # Unset means the project's default runtime account, which Google reports back by its email: setting ""
        # here would look like a change on every deploy.
        **({"serviceAccount": spec.service_account} if spec.service_account else {}),
        "scaling": {"minInstanceCount": spec.min_instances, "maxInstanceCount": spec.max_instances},
        "maxInstanceRequestConcurrency": spec.concurrency,
        "timeout": f"{spec.timeout_s}s",
        "containers": [container],
        **gpu,
    }
    return {"labels": managed_by_label(), "template": template}


def _is_empty(value: Any) -> bool:
    return value in (None, "", 0, False, [], {})


def owned_differences(desired: Any, current: Any, path: str = "") -> list[str]:
    """Paths where ``current`` differs from ``desired``, looking only at what ``desired`` sets.

    Google omits empty values and fills in defaults for fields we do not own; an absent value equals an empty one.
    Labels are compared as "ours are present", since others may add their own.
    """
    if isinstance(desired, dict):
        current_dict = current if isinstance(current, dict) else {}
        found: list[str] = []
        for key, value in desired.items():
            found += owned_differences(value, current_dict.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(desired, list):
        current_list = current if isinstance(current, list) else []
        if path.endswith("containers"):
            # Only the first container is owned: sidecars added elsewhere are not a difference.
            current_list = current_list[: len(desired)]
        if len(desired) != len(current_list):
            return [path]
        found = []
        for index, (want, have) in enumerate(zip(desired, current_list, strict=True)):
            found += owned_differences(want, have, f"{path}[{index}]")
        return found
    if _is_empty(desired) and _is_empty(current):
        return []
    if str(desired) != str(current):  # int64 fields come back as strings in REST JSON
        return [path]
    return []


def merged_template(current: dict[str, Any] | None, desired: dict[str, Any]) -> dict[str, Any]:
    """A revision's or a task's template as read, with deployer's fields set: the first container's own keys are
    merged (a sidecar or a field deployer does not own stays), every other key is replaced."""
    template = dict(current or {})
    for key, value in desired.items():
        if key == "containers":
            containers = list(template.get("containers") or [{}])
            containers[0] = {**containers[0], **value[0]}
            template["containers"] = containers
        else:
            template[key] = value
    return template


def merge_owned(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """``current`` with every owned field replaced by ``desired``'s, everything else left as Google has it.

    Only the first container is owned (sidecars the user added elsewhere stay). Labels are merged.
    """
    merged = dict(current)
    for key, value in desired.items():
        if key == "labels":
            merged[key] = {**(current.get(key) or {}), **value}
        elif key == "template":
            template = merged_template(current.get("template"), value)
            # A revision name pinned by an earlier deploy would make this update collide with it.
            template.pop("revision", None)
            merged[key] = template
        else:
            merged[key] = value
    return merged


def with_public_access(policy: dict[str, Any], public: bool) -> dict[str, Any] | None:
    """The IAM policy with ``allUsers`` added to or removed from run.invoker; None when nothing changes."""
    if public:
        return add_bindings(policy, [(INVOKER_ROLE, PUBLIC_MEMBER)])
    bindings = [dict(b) for b in policy.get("bindings", [])]
    invoker = next((b for b in bindings if b.get("role") == INVOKER_ROLE and not b.get("condition")), None)
    if invoker is None or PUBLIC_MEMBER not in invoker.get("members", []):
        return None
    invoker["members"] = [m for m in invoker.get("members", []) if m != PUBLIC_MEMBER]
    if not invoker["members"]:
        bindings.remove(invoker)
    updated = {key: value for key, value in policy.items() if key != "bindings"}
    updated["bindings"] = bindings
    return updated


# --- preview deploys: a tagged revision at 0 % -----------------------------------------------------------------------


def preview_revision_name(service: str, tag: str, template: dict[str, Any]) -> str:
    """``SERVICE-TAG-HASH``: named by the configuration, so the same preview deployed again is the same revision.

    A revision name starts with its service's name and a hyphen and is a DNS label of at most 63 characters; with
    the traffic tag rules (services/deploy_run.py) it is at most 56.
    """
    content = {key: value for key, value in template.items() if key != "revision"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:8]
    return f"{service}-{tag}-{digest}"


def preview_traffic(current: dict[str, Any], revision: str, tag: str) -> tuple[list[dict[str, Any]], str]:
    """The traffic with ``revision`` added under ``tag`` at 0%, and the revision now pinned ("" if none was).

    Traffic that followed the latest revision is pinned to the revision serving it now, since the preview becomes
    the latest. A previous preview under the same tag is replaced; a tag that carried traffic keeps its traffic
    and loses the tag.
    """
    serving = str(current.get("latestReadyRevision", "")).rsplit("/", 1)[-1]
    pinned = ""
    traffic: list[dict[str, Any]] = []
    for target in current.get("traffic") or [{"type": LATEST, "percent": 100}]:
        target = dict(target)
        if target.get("tag") == tag:
            if not target.get("percent"):
                continue
            del target["tag"]
        if target.get("type") == LATEST:
            if not serving:
                raise DeployerError(
                    "the service has no ready revision to keep serving while the preview is deployed",
                    "deploy it without --preview first",
                )
            target["type"], target["revision"], pinned = BY_REVISION, serving, serving
        traffic.append(target)
    traffic.append({"type": BY_REVISION, "revision": revision, "percent": 0, "tag": tag})
    return traffic, pinned


def preview_body(current: dict[str, Any], desired: dict[str, Any], service: str, tag: str) -> dict[str, Any]:
    """The service with the owned fields of ``desired`` in a revision named for the preview, tagged, at 0%."""
    body = merge_owned(current, desired)
    revision = preview_revision_name(service, tag, body["template"])
    body["template"]["revision"] = revision
    body["traffic"], pinned = preview_traffic(current, revision, tag)
    if pinned:
        body["labels"] = {**body.get("labels", {}), PREVIEW_PIN_LABEL: pinned}
    return body


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def owned_mask(desired: dict[str, Any], *, traffic: bool = False) -> list[str]:
    """The ``update_mask`` of an update: the owned fields ``desired`` sets, as proto paths (snake_case).

    ``template.revision`` is always named, so a revision name an earlier preview pinned is cleared (the update gets
    a new generated name rather than colliding with it); ``traffic`` only when the update moves traffic. Anything
    else on the service (fields others set, fields newer than the client library) is left as Google has it.
    """
    paths = [_snake(key) for key in desired if key != "template"]
    paths += [f"template.{_snake(key)}" for key in desired.get("template", {})]
    if "template.revision" not in paths:
        paths.append("template.revision")
    if traffic:
        paths.append("traffic")
    return paths


def updated_mask(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """``owned_mask`` for ``updated_body``: with traffic when a preview's pin is given back."""
    return owned_mask(desired, traffic=PREVIEW_PIN_LABEL in (current.get("labels") or {}))


def updated_body(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """``merge_owned``, and traffic a preview pinned given back to the latest revision (the one this update makes)."""
    body = merge_owned(current, desired)
    labels = dict(body.get("labels") or {})
    pinned = labels.pop(PREVIEW_PIN_LABEL, None)
    if pinned is None:
        return body
    traffic: list[dict[str, Any]] = []
    for target in current.get("traffic") or []:
        if target.get("type") == BY_REVISION and target.get("revision") == pinned:
            target = {key: value for key, value in target.items() if key != "revision"}
            target["type"] = LATEST
        traffic.append(dict(target))
    body["labels"], body["traffic"] = labels, traffic
    return body
