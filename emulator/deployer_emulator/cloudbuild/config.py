"""A build request's checks (after cloud-build-local's validate.go) and its substitutions (subst.go)."""

from __future__ import annotations

import re
from typing import Any

from deployer_emulator.core import Emulator
from deployer_emulator.errors import invalid_argument

BUILDS = "cloudbuild.builds"  # Build documents by id, as the API answers them
BUILD_OPERATIONS = "cloudbuild.operations"  # build id -> {"operation": its operation's name}

BUILD_TYPE = "type.googleapis.com/google.devtools.cloudbuild.v1.Build"
METADATA_TYPE = "type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata"

NOT_EXECUTED = "not executed: the emulator has no container engine (install podman or docker)"
TERMINAL = {"SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"}

# Cloud Build limits (cloud-build-local validate.go): 24 h max timeout; the API's default build timeout is 10 min.
MAX_TIMEOUT_S = 24 * 3600.0
DEFAULT_TIMEOUT = "600s"

# https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values#using_default_substitutions
_BUILTIN_SUBSTITUTIONS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "TRIGGER_NAME",
    "COMMIT_SHA",
    "REVISION_ID",
    "SHORT_SHA",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
}
# Built-ins a caller may set in `substitutions` (cloud-build-local validate.go, validBuiltInSubstitutions).
_OVERRIDABLE_BUILTINS = {"REPO_NAME", "BRANCH_NAME", "TAG_NAME", "REVISION_ID", "COMMIT_SHA", "SHORT_SHA"}
_USER_SUBST_KEY_RE = re.compile(r"^_[A-Z0-9_]+$")
# A template parameter: $$ (escape), ${KEY} or $KEY (cloud-build-local subst.go).
_TEMPLATE_RE = re.compile(r"\$\$|\$\{([A-Z_][A-Z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)")

# docker/distribution reference grammar (reference.NameRegexp, TagRegexp), as Cloud Build's validImageTagRE uses it.
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_IMAGE_RE = re.compile(rf"^{_NAME}(?:@sha256:{_TAG}|:{_TAG})?$")
_BUILD_TAG_RE = re.compile(rf"^{_TAG}$")

# Output-only Build fields: a client may send them back (e.g. resubmitting a fetched build); they are ignored.
_BUILD_OUTPUT_ONLY = (
    "name",
    "id",
    "projectId",
    "status",
    "statusDetail",
    "results",
    "createTime",
    "startTime",
    "finishTime",
    "logUrl",
    "sourceProvenance",
    "buildTriggerId",
    "timing",
    "approval",
    "warnings",
    "failureInfo",
)
_STEP_OUTPUT_ONLY = ("timing", "pullTiming", "status", "exitCode")

_DOCKER_BUILDER_RE = re.compile(
    r"^(?:(?:(?:us|eu|asia)\.)?gcr\.io/cloud-builders/docker|(?:docker\.io/)?(?:library/)?docker)"
    r"(?::[\w][\w.-]*)?(?:@sha256:[0-9a-f]{64})?$"
)


def _parse_duration(value: str, what: str) -> float:
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)s", value.strip())
    if match is None:
        raise invalid_argument(f"invalid {what} value: {value!r}")
    return float(match[1])


def _step_label(index: int, step: dict[str, Any]) -> str:
    return f'Step #{index} - "{step["id"]}"' if step.get("id") else f"Step #{index}"


def _default_service_account(emulator: Emulator, project: str) -> str:
    # Projects that first built after mid-2024 build as the Compute Engine default service account
    # (https://cloud.google.com/build/docs/cloud-build-service-account-updates).
    return (
        f"projects/{project}/serviceAccounts/{emulator.project_number(project)}-compute@developer.gserviceaccount.com"
    )


# -- substitutions ---------------------------------------------------------------------------------------------------
def _template_keys(text: str) -> list[str]:
    return [m[1] or m[2] for m in _TEMPLATE_RE.finditer(text) if m[0] != "$$"]


def _substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return values.get(match[1] or match[2], "")

    return _TEMPLATE_RE.sub(replace, text)


def _templated_strings(build: dict[str, Any]) -> list[str]:
    """The fields Cloud Build substitutes in (cloud-build-local subst.go and validate.go CheckSubstitutionTemplate)."""
    texts: list[str] = []
    for step in build.get("steps", []):
        texts += [step.get("name", ""), *step.get("args", []), *step.get("env", [])]
        texts += [step.get("dir", ""), step.get("entrypoint", "")]
    texts += build.get("images", [])
    texts += build.get("tags", [])
    return texts


def _apply_substitutions(build: dict[str, Any], values: dict[str, str]) -> None:
    for step in build.get("steps", []):
        for key in ("name", "dir", "entrypoint"):
            if key in step:
                step[key] = _substitute(step[key], values)
        for key in ("args", "env"):
            if key in step:
                step[key] = [_substitute(v, values) for v in step[key]]
    if "images" in build:
        build["images"] = [_substitute(v, values) for v in build["images"]]
    if "tags" in build:
        build["tags"] = [_substitute(v, values) for v in build["tags"]]


# -- validation ------------------------------------------------------------------------------------------------------
def _validate_steps(steps: list[dict[str, Any]], build_timeout_s: float) -> None:
    """cloud-build-local validate.go CheckBuildSteps, with its messages."""
    if not steps:
        raise invalid_argument("invalid .steps field: no build steps are specified", field="build.steps")
    if len(steps) > 100:
        raise invalid_argument("invalid .steps field: cannot specify more than 100 build steps", field="build.steps")
    known = {"-"}
    for i, step in enumerate(steps):
        if not step.get("name"):
            raise invalid_argument(f"invalid .steps field: build step {i} must specify name", field="build.steps")
        for dependency in step.get("waitFor", []):
            if dependency not in known:
                label = f'build step #{i} - "{step["id"]}"' if step.get("id") else f"build step #{i}"
                raise invalid_argument(
                    f'invalid .steps field: {label} depends on "{dependency}", which has not been defined',
                    field="build.steps",
                )
        if step.get("id"):
            if step["id"] in known:
                raise invalid_argument(
                    f'invalid .steps field: build step #{i} - "{step["id"]}": the ID is not unique', field="build.steps"
                )
            known.add(step["id"])
        for entry in step.get("env", []):
            if "=" not in entry:
                raise invalid_argument(
                    f'invalid .steps field: build step #{i} - "{step.get("id", "")}": the Env entry "{entry}" must be '
                    'of the form "KEY=VALUE"',
                    field="build.steps",
                )
        if step.get("timeout"):
            step_timeout = _parse_duration(step["timeout"], f".timeout in build step #{i}")
            if step_timeout > build_timeout_s:
                raise invalid_argument(
                    f"invalid .steps field: invalid .timeout in build step #{i}: build step timeout "
                    f"{step_timeout:g}s must be <= build timeout {build_timeout_s:g}s",
                    field="build.steps",
                )


def _validate_substitutions(build: dict[str, Any]) -> None:
    substitutions: dict[str, str] = build.get("substitutions", {})
    if len(substitutions) > 100:
        raise invalid_argument(
            f"invalid .substitutions field: number of substitutions {len(substitutions)} exceeded (max: 100)"
        )
    for key in substitutions:
        if not _USER_SUBST_KEY_RE.match(key) and key not in _OVERRIDABLE_BUILTINS:
            raise invalid_argument(
                f'invalid .substitutions field: substitution key "{key}" does not respect format '
                f'"{_USER_SUBST_KEY_RE.pattern}" and is not an overridable built-in substitutions',
                field="build.substitutions",
            )
    loose = build.get("options", {}).get("substitutionOption") == "ALLOW_LOOSE"
    used: set[str] = set()
    problems: list[str] = []
    for text in _templated_strings(build):
        for key in _template_keys(text):
            if key not in substitutions:
                if _USER_SUBST_KEY_RE.match(key):
                    problems.append(
                        f'key in the template "{key}" is not matched in the substitution data; '
                        f"substitutions = map[{' '.join(f'{k}:{v}' for k, v in sorted(substitutions.items()))}]"
                    )
                    continue
                if key not in _BUILTIN_SUBSTITUTIONS:
                    raise invalid_argument(f'key in the template "{key}" is not a valid built-in substitution')
            used.add(key)
    problems += [
        f'key "{k}" in the substitution data is not matched in the template' for k in substitutions if k not in used
    ]
    if problems and not loose:
        raise invalid_argument(";".join(problems), field="build.substitutions")


def _validate_after_substitution(build: dict[str, Any]) -> None:
    """cloud-build-local validate.go CheckBuildAfterSubstitutions."""
    for step in build["steps"]:
        if not _IMAGE_RE.match(step["name"]):
            raise invalid_argument(f'invalid build step name "{step["name"]}"', field="build.steps")
    tags = list(dict.fromkeys(t for t in build.get("tags", []) if t))
    if len(tags) > 64:
        raise invalid_argument(f"number of tags {len(tags)} exceeded (max: 64)", field="build.tags")
    for tag in tags:
        if not _BUILD_TAG_RE.match(tag):
            raise invalid_argument(f'invalid build tag "{tag}": must match format "{_BUILD_TAG_RE.pattern}"')
    if "tags" in build:
        build["tags"] = tags
    images = build.get("images", [])
    if len(images) > 100:
        raise invalid_argument("cannot specify more than 100 images to build", field="build.images")
    for image in images:
        if not _IMAGE_RE.match(image):
            if _IMAGE_RE.match(image.lower()):
                raise invalid_argument(f'invalid image name "{image}" contains uppercase letters', field="build.images")
            raise invalid_argument(f'invalid image name "{image}"', field="build.images")
