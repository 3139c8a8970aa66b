"""Pure builders of the request bodies deployer sends, as the REST JSON that goes on the wire.

Pure functions of their inputs, tested as values; ``--dry-run`` prints exactly these. The adapters parse them into
the client libraries' types strictly, so a misspelt field fails in tests, not at Google.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

MANAGED_BY_LABEL = {"managed-by": "deployer"}
INVOKER_ROLE = "roles/run.invoker"
PUBLIC_MEMBER = "allUsers"


def source_bucket_name(project: str) -> str:
    """Cloud Build's source bucket, named as gcloud names it: ':' and '.' become '_', 'google' becomes 'elgoog'."""
    return project.replace(":", "_").replace(".", "_").replace("google", "elgoog") + "_cloudbuild"


def registry_host(region: str) -> str:
    return f"{region}-docker.pkg.dev"


def image_name(project: str, region: str, repository: str, name: str) -> str:
    """``LOCATION-docker.pkg.dev/PROJECT/REPO/IMAGE``; a domain-scoped project's ':' becomes '/'."""
    return f"{registry_host(region)}/{project.replace(':', '/')}/{repository}/{name}"


def repository_body(description: str = "Images built by deployer") -> dict[str, Any]:
    return {"format": "DOCKER", "description": description, "labels": dict(MANAGED_BY_LABEL)}


@dataclass(frozen=True)
class BuildSpec:
    """What to build: the uploaded source, the Dockerfile inside it, and the tags to push."""

    bucket: str
    object: str
    generation: int
    dockerfile: str  # relative to the context root, posix
    image: str  # without tag
    tags: tuple[str, ...]  # the first is the content tag
    timeout_s: int
    machine_type: str = ""
    service: str = ""
    # The build's identity: an email, or projects/P/serviceAccounts/EMAIL. Empty: Cloud Build's default account.
    service_account: str = ""
    project: str = ""  # the build's project, for an account email whose domain does not name its project


CLOUDBUILD_CONFIG = "cloudbuild.yaml"  # package data next to this module; the repository's top-level copy is checked
DEPLOY_STEP_ID = "deploy"  # for hand use: deployer deploys through the Cloud Run API itself
_USER_SUBSTITUTION = re.compile(r"\$\$|\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)")


@functools.cache
def cloudbuild_config_text() -> str:
    return resources.files("deployer.gcp").joinpath(CLOUDBUILD_CONFIG).read_text(encoding="utf-8")


@functools.cache
def _cloudbuild_config() -> dict[str, Any]:
    import yaml

    loaded = yaml.safe_load(cloudbuild_config_text())
    assert isinstance(loaded, dict)
    return loaded


def fill_substitutions(value: Any, values: dict[str, str]) -> Any:
    """``value`` (a string, or lists and dicts of them) with the ``_KEY`` substitutions replaced, as Cloud Build does.

    Only user substitutions are replaced; ``$$`` and built-ins such as ``$PROJECT_ID`` stay for Cloud Build
    (https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values). A ``_KEY`` without a value is
    a KeyError: the file and deployer disagree.
    """
    if isinstance(value, str):
        return _USER_SUBSTITUTION.sub(lambda m: "$$" if m.group(0) == "$$" else values[m.group(1) or m.group(2)], value)
    if isinstance(value, list):
        return [fill_substitutions(item, values) for item in value]
    if isinstance(value, dict):
        return {key: fill_substitutions(item, values) for key, item in value.items()}
    return value


def _service_account_name(spec: BuildSpec) -> str:
    if spec.service_account.startswith("projects/"):
        return spec.service_account
    domain = spec.service_account.rpartition("@")[2]
    project = spec.project or domain.removesuffix(".iam.gserviceaccount.com")
    if not project or project == domain:
        raise ValueError(f"BuildSpec.service_account {spec.service_account!r} needs BuildSpec.project")
    # Cloud Build's format: projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT} (cloudbuild_v1 Build.service_account).
    return f"projects/{project}/serviceAccounts/{spec.service_account}"


def build_body(spec: BuildSpec) -> dict[str, Any]:
    """A Cloud Build ``Build``: cloudbuild.yaml's build and push steps, with the substitutions filled in.

    Cloud Build keeps no layer cache between builds, so the build reuses the layers of the last pushed ``latest``
    through BuildKit's inline cache (``--cache-from``; no pull needed), and pushes ``latest`` with that cache. Tags
    after the first are added next to it. With a service account, the build writes its log to the source bucket
    (Cloud Build requires a logs bucket or Cloud Logging only then; deployer streams the log from the bucket).
    """
    config = copy.deepcopy(_cloudbuild_config())
    values = {"_IMAGE": spec.image, "_TAG": spec.tags[0], "_DOCKERFILE": spec.dockerfile}
    steps = [fill_substitutions(step, values) for step in config["steps"] if step.get("id") != DEPLOY_STEP_ID]
    images: list[str] = fill_substitutions(config["images"], values)
    first = f"{spec.image}:{spec.tags[0]}"
    extra = [f"{spec.image}:{tag}" for tag in spec.tags[1:]]
    for step in steps:
        args = step.get("args", [])
        if args[:1] == ["build"] and first in args:
            at = args.index(first) + 1
            args[at:at] = [arg for reference in extra for arg in ("-t", reference)]
    at = images.index(first) + 1
    images[at:at] = extra
    body: dict[str, Any] = {
        "source": {"storageSource": {"bucket": spec.bucket, "object": spec.object, "generation": str(spec.generation)}},
        "steps": steps,
        "images": images,
        "tags": [*config.get("tags", []), *([f"deployer-{spec.service}"] if spec.service else [])],
        "timeout": f"{spec.timeout_s}s",
    }
    options: dict[str, Any] = {}
    if spec.machine_type:
        options["machineType"] = spec.machine_type
    if spec.service_account:
        body["serviceAccount"] = _service_account_name(spec)
        body["logsBucket"] = f"gs://{spec.bucket}/logs"
        options["logging"] = "GCS_ONLY"
    if options:
        body["options"] = options
    return body


@dataclass(frozen=True)
class ServiceSpec:
    """The part of a Cloud Run service that deployer.toml owns."""

    image: str  # image@sha256:digest, or image:tag in a dry run before the build
    env: tuple[tuple[str, str], ...]
    cpu: str
    memory: str
    min_instances: int
    max_instances: int
    concurrency: int
    port: int
    timeout_s: int
    service_account: str = ""
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()


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
    template: dict[str, Any] = {
        # Unset means the project's default runtime account, which Google reports back by its email: setting ""
        # here would look like a change on every deploy.
        **({"serviceAccount": spec.service_account} if spec.service_account else {}),
        "scaling": {"minInstanceCount": spec.min_instances, "maxInstanceCount": spec.max_instances},
        "maxInstanceRequestConcurrency": spec.concurrency,
        "timeout": f"{spec.timeout_s}s",
        "containers": [container],
    }
    return {"labels": dict(MANAGED_BY_LABEL), "template": template}


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


def merge_owned(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """``current`` with every owned field replaced by ``desired``'s, everything else left as Google has it.

    Only the first container is owned (sidecars the user added elsewhere stay). Labels are merged.
    """
    merged = dict(current)
    for key, value in desired.items():
        if key == "labels":
            merged[key] = {**(current.get(key) or {}), **value}
        elif key == "template":
            template = dict(current.get("template") or {})
            for template_key, template_value in value.items():
                if template_key == "containers":
                    containers = list(template.get("containers") or [{}])
                    containers[0] = {**containers[0], **template_value[0]}
                    template["containers"] = containers
                else:
                    template[template_key] = template_value
            # A revision name pinned by an earlier deploy would make this update collide with it.
            template.pop("revision", None)
            merged[key] = template
        else:
            merged[key] = value
    return merged


def with_public_access(policy: dict[str, Any], public: bool) -> dict[str, Any] | None:
    """The IAM policy with ``allUsers`` added to or removed from run.invoker; None when nothing changes."""
    bindings = [dict(b) for b in policy.get("bindings", [])]
    invoker = next((b for b in bindings if b.get("role") == INVOKER_ROLE and not b.get("condition")), None)
    has_public = invoker is not None and PUBLIC_MEMBER in invoker.get("members", [])
    if has_public == public:
        return None
    if public:
        if invoker is None:
            bindings.append({"role": INVOKER_ROLE, "members": [PUBLIC_MEMBER]})
        else:
            invoker["members"] = [*invoker.get("members", []), PUBLIC_MEMBER]
    else:
        assert invoker is not None
        invoker["members"] = [m for m in invoker.get("members", []) if m != PUBLIC_MEMBER]
        if not invoker["members"]:
            bindings.remove(invoker)
    updated = {key: value for key, value in policy.items() if key != "bindings"}
    updated["bindings"] = bindings
    return updated
