"""Cloud Build: the ``Build`` deployer submits, made from cloudbuild.yaml's steps, and the names it builds into.

Field meanings: https://cloud.google.com/build/docs/api/reference/rest/v1/projects.builds.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

from deployer.shipped import shipped


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


CLOUDBUILD_CONFIG = "cloudbuild.yaml"  # the repository's top-level file, shipped in the wheel (deployer/shipped.py)
DEPLOY_STEP_ID = "deploy"  # for hand use: deployer deploys through the Cloud Run API itself
_USER_SUBSTITUTION = re.compile(r"\$\$|\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)")


@functools.cache
def cloudbuild_config_text() -> str:
    return shipped(CLOUDBUILD_CONFIG).read_text(encoding="utf-8")


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
