"""Cloud Build v1: create (LRO), get, list, cancel builds, the build operations, and the execution of docker steps.

Routes (URIs as in google-cloud-build's REST transport, ``cloudbuild_v1/services/cloud_build/transports/rest_base.py``):
  ``POST|GET /v1/projects/{p}/builds`` and ``/v1/projects/{p}/locations/{l}/builds``, ``GET .../builds/{id}``,
  ``POST .../builds/{id}:cancel``, ``GET /v1/operations/{name=**}`` (global builds' operations,
  ``operations/build/{project}/{base64 id}``), ``GET /v1/projects/{p}/locations/{l}/operations/{id}``, their
  ``:cancel``, ``GET /v1/projects/{p}/locations/{l}/defaultServiceAccount``, and the admin route
  ``GET /_emulator/builds/{id}/log`` (the build's ``logUrl``: the whole log as text).

What a build does here:

- Validation at create follows Cloud Build's (mirrored from GoogleCloudPlatform/cloud-build-local, validate/validate.go
  and subst/subst.go, the open-source local runner of the same service): steps present and named, step ids and
  ``waitFor``, ``KEY=VALUE`` env entries, substitution keys (``_[A-Z0-9_]+`` or overridable built-ins), every
  ``$VAR``/``${VAR}`` known and every substitution used (unless ``options.substitutionOption`` is ALLOW_LOOSE, which
  turns both into empty strings / no error), image and step names in docker reference form, build tags. Substitutions
  are applied to step name/args/env/dir/entrypoint, ``images`` and ``tags`` (``$$`` is a literal ``$``).
- A ``source.storageSource`` must name an existing object: a 400 at create otherwise.
- With a container engine, steps run in order (``waitFor`` concurrency is not reproduced): docker builder steps
  (``gcr.io/cloud-builders/docker``, ``docker``) with ``build``, ``tag`` and ``push`` run through the engine;
  ``--network=cloudbuild`` (there is no such network locally), ``--cache-from`` (podman needs a repository for it; the
  local layer cache applies anyway) and ``--progress`` (BuildKit only) are dropped, and the log says so. Step ``env``
  is not forwarded: the engine's build runs with the emulator's environment (only the docker CLI reads those
  variables, never the Dockerfile). Any other builder fails the build with a statusDetail naming it.
  ``images[]`` are then "pushed": recorded in Artifact Registry with the engine's image id as digest (the image's
  config digest: nothing is pushed to a real registry, so there is no manifest digest).
- Without an engine nothing is executed: the build ends SUCCESS with statusDetail ``not executed: ...``, and images
  are recorded as placeholders with a deterministic digest, sha256 of the source object's hashes and the image name
  (``artifactregistry.image_is_executable`` is False for them).
- The log object ``log-{id}.txt`` in the logs bucket grows while the build runs (Cloud Build's format: ``starting
  build``, ``FETCHSOURCE``, ``BUILD``, ``Step #N: ...``, ``PUSH``, ``DONE`` or ``ERROR``).
- The operation completes with the Build as ``response`` on SUCCESS; otherwise with an ``error`` (the client's
  ``operation.result()`` raises "Build failed; check build logs for details"), the final Build staying in the
  operation's metadata and at GET.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from google.cloud.devtools import cloudbuild_v1

from deployer_emulator import artifactregistry, iam, protos, storage
from deployer_emulator.core import Emulator, OperationHandle, Request, Response, paginate
from deployer_emulator.errors import ApiError, failed_precondition, invalid_argument, not_found

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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_duration(value: str, what: str) -> float:
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)s", value.strip())
    if match is None:
        raise invalid_argument(f"invalid {what} value: {value!r}")
    return float(match[1])


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(doc))  # type: ignore[no-any-return]


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


# -- source extraction -----------------------------------------------------------------------------------------------
def _extract_source(archive: Path, workspace: Path) -> None:
    """Unpack a .tar.gz (or .zip) source into the workspace, refusing absolute paths, ``..`` and links outside."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            root = workspace.resolve()
            for info in zf.infolist():
                target = (workspace / info.filename).resolve()
                if info.filename.startswith("/") or not target.is_relative_to(root):
                    raise ValueError(f"unsafe path in source archive: {info.filename!r}")
            zf.extractall(workspace)
        return
    with tarfile.open(archive, "r:*") as tf:
        # The "data" filter (PEP 706) rejects absolute names, "..", links escaping the directory and device files.
        tf.extractall(workspace, filter="data")


# -- running processes -----------------------------------------------------------------------------------------------
def _process_parents() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc (empty where there is no /proc)."""
    parents: dict[int, int] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return parents
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return parents


def _children_in(directory: Path) -> list[int]:
    """This process's children whose working directory is ``directory``: the engine CLI building a step."""
    me, target = os.getpid(), str(directory)
    found: list[int] = []
    for pid, ppid in _process_parents().items():
        if ppid != me:
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd") == target:
                found.append(pid)
        except OSError:
            continue
    return found


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = [p for p in pids if Path(f"/proc/{p}").exists()]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if Path(f"/proc/{p}").exists()]
    return alive


def _stop_children(directory: Path) -> None:
    """Stop the engine build running in ``directory`` (cancel, timeout).

    Killing podman itself leaves buildah's working container behind, so first the processes of the RUN instruction
    are killed (the engine's grandchildren and below, under the OCI runtime): the instruction fails, and podman
    removes its intermediate container and exits as for any failed build. When the engine is not inside a RUN
    (pulling, committing) it gets SIGTERM, then SIGKILL.
    """
    engines = _children_in(directory)
    if not engines:
        return
    parents = _process_parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)

    def below(pid: int, depth: int) -> list[int]:
        found: list[int] = []
        for child in children.get(pid, []):
            if depth >= 1:
                found.append(child)
            found += below(child, depth + 1)
        return found

    # Repeated for a few seconds: a build stopped while pulling or between instructions reaches its next RUN soon.
    alive = engines
    deadline = time.monotonic() + 5
    while alive and time.monotonic() < deadline:
        _signal([pid for engine in alive for pid in below(engine, 0)], signal.SIGKILL)
        alive = _wait_gone(alive, 0.2)
        parents = _process_parents()
        children = {}
        for pid, ppid in parents.items():
            children.setdefault(ppid, []).append(pid)
    _signal(alive, signal.SIGTERM)
    _signal(_wait_gone(alive, 5), signal.SIGKILL)


class _LogWriter:
    """The build log: a local file (for ``logUrl``) and, when GCS logging is on, an object that grows as it goes."""

    def __init__(self, emulator: Emulator, local: Path, gcs: tuple[str, str] | None) -> None:
        self._emulator = emulator
        self._local = local
        self._gcs = gcs
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.failure: str | None = None
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(b"")
        self._flusher = threading.Thread(target=self._flush_loop, name=f"build log {local.stem}", daemon=True)
        self._flusher.start()

    def line(self, text: str) -> None:
        data = (text + "\n").encode("utf-8", errors="replace")
        with self._lock:
            with self._local.open("ab") as fh:
                fh.write(data)
            self._pending += data

    def flush(self) -> None:
        with self._lock:
            data, self._pending = bytes(self._pending), bytearray()
            if not data or self._gcs is None or self.failure is not None:
                return
            try:
                storage.append_object(self._emulator, self._gcs[0], self._gcs[1], data)
            except ApiError as exc:
                self.failure = f"failed to write logs to gs://{self._gcs[0]}/{self._gcs[1]}: {exc.message}"

    def _flush_loop(self) -> None:
        # Flushed a few times a second so a client tailing the object with ranged reads sees the log grow.
        while not self._stop.wait(0.25):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._flusher.join(timeout=5)
        self.flush()


class _Stop(Exception):
    """The build ends early: cancelled or timed out."""


@dataclass
class _Run:
    build_id: str
    handle: OperationHandle | None
    log: _LogWriter
    workspace: Path
    deadline: float  # time.monotonic() when the build times out
    cancel: threading.Event
    timed_out: threading.Event = field(default_factory=threading.Event)
    current_dir: Path | None = None
    service_account: str = ""  # projects/P/serviceAccounts/EMAIL: whom the build's own calls speak for


class CloudBuild:
    """The Cloud Build surface of one emulator: build documents in ``state``, running builds in memory."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._runs: dict[str, _Run] = {}
        self._cancel_requests: dict[str, threading.Event] = {}
        self._runs_lock = threading.Lock()

    # -- state helpers --------------------------------------------------------------------------------------------
    def _get(self, build_id: str) -> dict[str, Any]:
        with self.emulator.state.lock:
            doc = self.emulator.state.table(BUILDS).get(build_id)
            if doc is None:
                raise not_found(f'Requested entity was not found. Build "{build_id}" not found.')
            return _copy(doc)

    def _update(self, run: _Run | None, build_id: str, **changes: Any) -> dict[str, Any]:
        """Apply top-level changes to the build and mirror it into the operation's metadata."""
        with self.emulator.mutation():
            doc = self.emulator.state.table(BUILDS)[build_id]
            if doc.get("status") in TERMINAL and "status" in changes:
                changes.pop("status")  # a cancel answered already: the first terminal status stays
                changes.pop("statusDetail", None)
            for key, value in changes.items():
                if value is None:
                    doc.pop(key, None)
                else:
                    doc[key] = value
            snapshot = _copy(doc)
        if run is not None and run.handle is not None:
            run.handle.set_metadata({"@type": METADATA_TYPE, "build": snapshot})
        return snapshot

    # -- create -----------------------------------------------------------------------------------------------------
    def create(self, req: Request, project: str, location: str) -> dict[str, Any]:
        parsed = protos.parse(cloudbuild_v1.Build, req.body, field="build")
        build = protos.to_json(parsed)
        self.emulator.authorize(req, "cloudbuild.builds.create", f"projects/{project}/locations/{location}")
        doc = self._prepare(project, location, build)
        # The submitter must be allowed to act as the account the build runs as, the default one included
        # (https://cloud.google.com/build/docs/cloud-build-service-account-updates).
        self.emulator.authorize(req, "iam.serviceAccounts.actAs", doc["serviceAccount"])
        self._check_log_writes(doc, build)
        build_id = doc["id"]
        if location == "global":
            # The global endpoint names its operations this way (operations/build/{project}/{base64 build id}).
            operation = f"operations/build/{project}/{base64.b64encode(build_id.encode()).decode()}"
        else:
            operation = f"projects/{project}/locations/{location}/operations/{uuid.uuid4()}"
        with self.emulator.mutation():
            self.emulator.state.table(BUILDS)[build_id] = doc
            self.emulator.state.table(BUILD_OPERATIONS)[build_id] = {"operation": operation}
        metadata = {"@type": METADATA_TYPE, "build": _public(doc)}
        self.emulator.start_operation(operation, metadata, lambda handle: self._work(build_id, handle))
        # Answer the operation as created (not done), whatever the background work has reached meanwhile.
        return {"name": operation, "metadata": metadata, "done": False}

    def _as_build_account(self, doc: dict[str, Any]) -> Request:
        """A request made by the build itself: pushes, source reads and log writes speak for its service account
        (in the strict world; the open world allows everything)."""
        return iam.as_caller(f"serviceAccount:{str(doc['serviceAccount']).rsplit('/', 1)[-1]}")

    def _check_log_writes(self, doc: dict[str, Any], build: dict[str, Any]) -> None:
        """A build that logs to a bucket of the user's needs its account to write there, or Cloud Build refuses it
        at create; one that logs to Cloud Logging without logging.logEntries.create loses its logs, with a warning."""
        logging_mode = doc.get("options", {}).get("logging", "LOGGING_UNSPECIFIED")
        account = self._as_build_account(doc)
        if build.get("logsBucket") and logging_mode not in ("CLOUD_LOGGING_ONLY", "NONE"):
            bucket, _ = storage.parse_gs_url(build["logsBucket"])
            try:
                self.emulator.authorize(account, "storage.objects.create", f"projects/_/buckets/{bucket}/objects/log")
            except ApiError as exc:
                raise invalid_argument(
                    f'invalid bucket "{bucket}"; builder service account does not have access to the bucket',
                    field="build.logs_bucket",
                ) from exc
        if logging_mode == "CLOUD_LOGGING_ONLY":
            try:
                self.emulator.authorize(account, "logging.logEntries.create", f"projects/{doc['projectId']}")
            except ApiError:
                email = account.caller.split(":", 1)[1]
                # Unconfirmed wording, as the Cloud Build console words the warning.
                doc.setdefault("warnings", []).append(
                    {
                        "text": f"The service account running this build ({email}) does not have permission to "
                        "write logs to Cloud Logging. To fix this, grant the Logs Writer (roles/logging.logWriter) "
                        "role to the service account.",
                        "priority": "WARNING",
                    }
                )

    def _authorize_push(self, run: _Run, ref: artifactregistry.ImageRef) -> None:
        """A push speaks for the build's account and fails in docker's words when it may not upload."""
        account = iam.as_caller(f"serviceAccount:{run.service_account.rsplit('/', 1)[-1]}")
        permission = "artifactregistry.repositories.uploadArtifacts"
        try:
            self.emulator.authorize(account, permission, ref.repository_name)
        except ApiError as exc:
            if exc.status != "PERMISSION_DENIED" or "SERVICE_DISABLED" in json.dumps(exc.details):
                raise
            # What the registry answers a docker push it refuses.
            raise ApiError(
                "PERMISSION_DENIED",
                f'denied: Permission "{permission}" denied on resource "{ref.repository_name}" (or it may not exist)',
            ) from exc

    def _prepare(self, project: str, location: str, build: dict[str, Any]) -> dict[str, Any]:
        """Validate a Build request the way Cloud Build does and fill in what the service sets."""
        for key in _BUILD_OUTPUT_ONLY:
            build.pop(key, None)
        for step in build.get("steps", []):
            for key in _STEP_OUTPUT_ONLY:
                step.pop(key, None)
        timeout_s = _parse_duration(build.get("timeout", DEFAULT_TIMEOUT), "timeout")
        if timeout_s > MAX_TIMEOUT_S:
            raise invalid_argument("timeout exceeds the timeout limit of 24h0m0s", field="build.timeout")
        if timeout_s < 0:
            raise invalid_argument("invalid timeout: timeout must be >=0", field="build.timeout")
        _validate_substitutions(build)
        _validate_steps(build.get("steps", []), timeout_s or MAX_TIMEOUT_S)
        build_id = str(uuid.uuid4())
        number = self.emulator.project_number(project)
        service_account = build.get("serviceAccount") or _default_service_account(self.emulator, project)
        values = {
            "PROJECT_ID": project,
            "PROJECT_NUMBER": number,
            "BUILD_ID": build_id,
            "LOCATION": location,
            "SERVICE_ACCOUNT": service_account,
            "SERVICE_ACCOUNT_EMAIL": service_account.rsplit("/", 1)[-1],
            **build.get("substitutions", {}),
        }
        _apply_substitutions(build, values)
        _validate_after_substitution(build)
        options = build.get("options", {})
        logging_mode = options.get("logging", "LOGGING_UNSPECIFIED")
        if build.get("serviceAccount") and not (
            build.get("logsBucket")
            or options.get("defaultLogsBucketBehavior") == "REGIONAL_USER_OWNED_BUCKET"
            or logging_mode in ("CLOUD_LOGGING_ONLY", "NONE")
        ):
            # Google's message, verbatim (https://cloud.google.com/build/docs/securing-builds/configure-user-specified-service-accounts).
            raise invalid_argument(
                "if 'build.service_account' is specified, the build must either (a) specify 'build.logs_bucket', "
                "(b) use the REGIONAL_USER_OWNED_BUCKET build.options.default_logs_bucket_behavior option, or "
                "(c) use either CLOUD_LOGGING_ONLY / NONE logging options: invalid argument",
                field="build.service_account",
            )
        source = build.get("source", {})
        provenance: dict[str, Any] = {}
        unsupported = [k for k in source if k != "storageSource"]
        if unsupported:
            raise ApiError(
                "UNIMPLEMENTED",
                f"the emulator builds only from source.storageSource (or no source), not source.{unsupported[0]}",
            )
        if "storageSource" in source:
            provenance = self._resolve_source(source["storageSource"])
        if build.get("logsBucket") and logging_mode not in ("CLOUD_LOGGING_ONLY", "NONE"):
            bucket, _ = storage.parse_gs_url(build["logsBucket"])
            if not storage.bucket_exists(self.emulator, bucket):
                # What Cloud Build answers when the logs bucket cannot be written.
                raise invalid_argument(
                    f'invalid bucket "{bucket}"; builder service account does not have access to the bucket',
                    field="build.logs_bucket",
                )
        now = _now()
        doc: dict[str, Any] = {
            "name": f"projects/{project}/locations/{location}/builds/{build_id}",
            "id": build_id,
            "projectId": project,
            "status": "QUEUED",
            "createTime": now,
            **build,
            "timeout": build.get("timeout", DEFAULT_TIMEOUT),
            "queueTtl": build.get("queueTtl", "3600s"),
            "serviceAccount": service_account,
            "logUrl": f"{self.emulator.base_url}/_emulator/builds/{build_id}/log",
        }
        if provenance:
            doc["sourceProvenance"] = provenance
        if logging_mode not in ("CLOUD_LOGGING_ONLY", "NONE") and not build.get("logsBucket"):
            if options.get("defaultLogsBucketBehavior") == "REGIONAL_USER_OWNED_BUCKET":
                doc["logsBucket"] = f"gs://{number}-{location}-cloudbuild-logs"
            else:
                # The Google-owned default logs bucket (https://cloud.google.com/build/docs/securing-builds/store-manage-build-logs).
                doc["logsBucket"] = f"gs://{number}.cloudbuild-logs.googleusercontent.com"
        return doc

    def _resolve_source(self, source: dict[str, Any]) -> dict[str, Any]:
        bucket, name = source.get("bucket", ""), source.get("object", "")
        if not bucket or not name:
            raise invalid_argument("source.storage_source must specify bucket and object", field="build.source")
        try:
            obj = storage.get_object(self.emulator, bucket, name)
        except ApiError as exc:
            # Cloud Build resolves the source at create time and answers 400 with the storage error inside.
            raise invalid_argument(
                f"could not resolve source: googleapi: Error 404: {exc.message}, notFound", field="build.source"
            ) from exc
        generation = source.get("generation")
        if generation and str(generation) != obj["generation"]:
            raise invalid_argument(
                f"could not resolve source: googleapi: Error 404: No such object: {bucket}/{name}#{generation}, "
                "notFound",
                field="build.source",
            )
        return {"resolvedStorageSource": {"bucket": bucket, "object": name, "generation": obj["generation"]}}

    # -- execution --------------------------------------------------------------------------------------------------
    def _work(self, build_id: str, handle: OperationHandle) -> dict[str, Any]:
        doc = self._get(build_id)
        local_log = self.emulator.blob_dir / "cloudbuild" / "logs" / f"{build_id}.txt"
        gcs = self._log_object(doc)
        workspace = Path(tempfile.mkdtemp(prefix=f"build-{build_id[:8]}-", dir=self._workspaces()))
        with self._runs_lock:
            cancel = self._cancel_requests.setdefault(build_id, threading.Event())
        run = _Run(
            build_id=build_id,
            handle=handle,
            log=_LogWriter(self.emulator, local_log, gcs),
            workspace=workspace,
            deadline=time.monotonic() + (_parse_duration(doc["timeout"], "timeout") or MAX_TIMEOUT_S),
            cancel=cancel,
            service_account=doc["serviceAccount"],
        )
        with self._runs_lock:
            self._runs[build_id] = run
        watchdog = threading.Timer(max(run.deadline - time.monotonic(), 0), self._on_timeout, args=(run,))
        watchdog.daemon = True
        watchdog.start()
        try:
            final = self._execute(run, doc)
        except Exception as exc:  # an emulator bug still ends the build, as INTERNAL_ERROR
            run.log.line(f"ERROR: internal emulator error: {exc!r}")
            final = self._finish(run, "INTERNAL_ERROR", f"internal emulator error: {exc!r}")
        finally:
            watchdog.cancel()
            run.log.close()
            shutil.rmtree(workspace, ignore_errors=True)
            with self._runs_lock:
                self._runs.pop(build_id, None)
                self._cancel_requests.pop(build_id, None)
        status = final["status"]
        if status == "SUCCESS":
            return {"@type": BUILD_TYPE, **final}
        # The operation of a build that did not succeed ends in error; the Build stays in the metadata.
        errors = {
            "FAILURE": ("UNKNOWN", "Build failed; check build logs for details"),
            "TIMEOUT": ("DEADLINE_EXCEEDED", "Build timeout"),
            "CANCELLED": ("CANCELLED", "Build was cancelled"),
        }
        rpc_status, message = errors.get(status, ("INTERNAL", f"Build ended with status {status}"))
        raise ApiError(rpc_status, message, http_status=500 if rpc_status == "UNKNOWN" else None)

    def _workspaces(self) -> Path:
        path = self.emulator.blob_dir / "cloudbuild" / "workspaces"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _log_object(self, doc: dict[str, Any]) -> tuple[str, str] | None:
        if not doc.get("logsBucket"):
            return None
        bucket, prefix = storage.parse_gs_url(doc["logsBucket"])
        if not storage.bucket_exists(self.emulator, bucket):
            # The default buckets are created on first use (Google's own, or the regional user-owned one).
            storage.ensure_bucket(self.emulator, bucket, doc["projectId"])
        name = f"log-{doc['id']}.txt"
        return bucket, f"{prefix}/{name}" if prefix else name

    def _on_timeout(self, run: _Run) -> None:
        run.timed_out.set()
        if run.current_dir is not None:
            _stop_children(run.current_dir)

    def _checkpoint(self, run: _Run) -> None:
        if run.cancel.is_set() or run.timed_out.is_set():
            raise _Stop

    def _execute(self, run: _Run, doc: dict[str, Any]) -> dict[str, Any]:
        build_id = run.build_id
        log = run.log
        timing: dict[str, Any] = {}
        try:
            self._checkpoint(run)
            self._update(run, build_id, status="WORKING", startTime=_now())
            log.line(f'starting build "{build_id}"')
            log.line("")
            log.line("FETCHSOURCE")
            log.flush()  # phase headers reach the log object at once; lines follow a few times a second
            started = _now()
            failure = self._fetch_source(run, doc)
            timing["FETCHSOURCE"] = {"startTime": started, "endTime": _now()}
            self._update(run, build_id, timing=timing)
            if failure:
                return self._finish(run, "FAILURE", failure, failure_type="FETCH_SOURCE_FAILED", detail=failure)
            self._checkpoint(run)
            log.line("BUILD")
            log.flush()
            started = _now()
            failure_info = self._run_steps(run, doc)
            timing["BUILD"] = {"startTime": started, "endTime": _now()}
            self._update(run, build_id, timing=timing)
            if failure_info is not None:
                status_detail, failure_type, detail = failure_info
                return self._finish(run, "FAILURE", status_detail, failure_type=failure_type, detail=detail)
            self._checkpoint(run)
            results: dict[str, Any] = {"buildStepImages": ["" for _ in doc["steps"]]}
            if doc.get("images"):
                log.line("PUSH")
                log.flush()
                started = _now()
                push_failure = self._push_images(run, doc, results)
                timing["PUSH"] = {"startTime": started, "endTime": _now()}
                self._update(run, build_id, timing=timing, results=results)
                if push_failure is not None:
                    status_detail, failure_type = push_failure
                    return self._finish(run, "FAILURE", status_detail, failure_type=failure_type, detail=status_detail)
            else:
                self._update(run, build_id, results=results)
            log.flush()
            if log.failure:
                return self._finish(run, "FAILURE", log.failure, failure_type="LOGGING_FAILURE", detail=log.failure)
            log.line("DONE")
            success_detail = None if self.emulator.engine is not None else NOT_EXECUTED
            return self._finish(run, "SUCCESS", success_detail)
        except _Stop:
            if run.timed_out.is_set() and not run.cancel.is_set():
                log.line("TIMEOUT")
                log.line("ERROR: context deadline exceeded")
                return self._finish(run, "TIMEOUT", f"Build timed out after {doc['timeout']}")
            log.line("ERROR")
            log.line("ERROR: the build was cancelled")
            return self._finish(run, "CANCELLED", "Build was cancelled")

    def _finish(
        self,
        run: _Run,
        status: str,
        status_detail: str | None,
        *,
        failure_type: str | None = None,
        detail: str | None = None,
    ) -> dict[str, Any]:
        # The whole log is in the object before the build turns terminal: clients read it once more after that.
        run.log.flush()
        doc = self._get(run.build_id)
        steps = doc.get("steps", [])
        for step in steps:
            if step.get("status") == "WORKING":
                step["status"] = {"CANCELLED": "CANCELLED", "TIMEOUT": "TIMEOUT"}.get(status, "FAILURE")
            step.setdefault("status", "QUEUED")  # never started
        changes: dict[str, Any] = {"status": status, "statusDetail": status_detail, "finishTime": _now()}
        changes["steps"] = steps
        if failure_type is not None:
            changes["failureInfo"] = {"type": failure_type, "detail": detail or status_detail or ""}
        final = self._update(run, run.build_id, **changes)
        return _public(final)

    # -- phases -----------------------------------------------------------------------------------------------------
    def _fetch_source(self, run: _Run, doc: dict[str, Any]) -> str | None:
        resolved = doc.get("sourceProvenance", {}).get("resolvedStorageSource")
        if not resolved:
            return None
        url = f"gs://{resolved['bucket']}/{resolved['object']}#{resolved['generation']}"
        run.log.line(f"Fetching storage object: {url}")
        try:
            # The build reads its source as its own service account.
            self.emulator.authorize(
                self._as_build_account(doc),
                "storage.objects.get",
                f"projects/_/buckets/{resolved['bucket']}/objects/{resolved['object']}",
            )
            path = storage.read_object_path(self.emulator, resolved["bucket"], resolved["object"])
            size = path.stat().st_size
            run.log.line(f"Copying {url}...")
            if self.emulator.engine is not None:
                _extract_source(path, run.workspace)
        except (ApiError, OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            run.log.line(f"ERROR: failed to fetch source {url}: {message}")
            return f"failed to fetch source {url}: {message}"
        run.log.line(f"Operation completed over 1 objects/{size} B.")
        return None

    def _set_step(self, run: _Run, index: int, **changes: Any) -> None:
        with self.emulator.mutation():
            doc = self.emulator.state.table(BUILDS)[run.build_id]
            doc["steps"][index].update(changes)
        self._update(run, run.build_id)

    def _run_steps(self, run: _Run, doc: dict[str, Any]) -> tuple[str, str, str] | None:
        """Run every step in order; (statusDetail, failure type, failure detail) when one fails."""
        for index, step in enumerate(doc["steps"]):
            self._checkpoint(run)
            label = _step_label(index, step)
            started = _now()
            self._set_step(run, index, status="WORKING", timing={"startTime": started})
            run.log.line(f"Starting {label}")
            exit_code, unsupported = self._run_step(run, index, step, label)
            self._checkpoint(run)
            status = "SUCCESS"
            allowed = exit_code == 0 or exit_code in [int(c) for c in step.get("allowExitCodes", [])]
            if unsupported is not None or not allowed:
                status = "FAILURE"
            changes: dict[str, Any] = {"status": status, "timing": {"startTime": started, "endTime": _now()}}
            if self.emulator.engine is not None and unsupported is None:
                changes["exitCode"] = exit_code
            self._set_step(run, index, **changes)
            run.log.line(f"Finished {label}")
            if unsupported is not None:
                run.log.line("ERROR")
                run.log.line(f"ERROR: {unsupported}")
                return unsupported, "USER_BUILD_STEP", unsupported
            if not allowed and not step.get("allowFailure"):
                run.log.line("ERROR")
                failure = f'build step {index} "{step["name"]}" failed: step exited with non-zero status: {exit_code}'
                run.log.line(f"ERROR: {failure}")
                return (
                    f'Build step {index} "{step["name"]}" failed: step exited with non-zero status: {exit_code}',
                    "USER_BUILD_STEP",
                    f"Build step failure: {failure}",
                )
        return None

    def _run_step(self, run: _Run, index: int, step: dict[str, Any], label: str) -> tuple[int, str | None]:
        """(exit code, why the emulator cannot run it or None)."""
        engine = self.emulator.engine
        args: list[str] = list(step.get("args", []))
        is_docker = _DOCKER_BUILDER_RE.match(step["name"]) is not None and step.get("entrypoint", "docker") == "docker"
        if engine is None:
            run.log.line(f"{label}: {NOT_EXECUTED}")
            if is_docker and args[:1] == ["push"] and len(args) >= 2:
                # A push step's image is recorded (as a placeholder) so that the rest of the flow can be exercised.
                try:
                    digest = self._record_placeholder(run, args[-1])
                    run.log.line(f"{label}: recorded {args[-1]} as a placeholder image {digest} (not built)")
                except ApiError as exc:
                    run.log.line(f"{label}: {exc.message}")
                    return 1, None
            return 0, None
        if step.get("script"):
            return 1, f'Build step {index} "{step["name"]}" failed: the emulator cannot run step scripts'
        if not is_docker:
            return 1, (
                f'Build step {index} "{step["name"]}" failed: the emulator cannot run builder image "{step["name"]}"'
                f"{' with entrypoint ' + repr(step['entrypoint']) if step.get('entrypoint') else ''}: "
                "only docker build, tag and push steps run (through the local container engine)"
            )
        command = args[0] if args else ""
        directory = self._step_dir(run, step)
        if directory is None:
            run.log.line(f"{label}: step dir {step.get('dir')!r} is outside /workspace")
            return 1, None
        directory.mkdir(parents=True, exist_ok=True)
        if command == "build":
            kept, dropped = _engine_build_args(args[1:])
            for flag in dropped:
                run.log.line(f"{label}: (emulator) ignoring {flag}: not applicable to the local engine")
            run.log.line(f"{label}: (emulator) {engine.name} build {' '.join(kept)}")
            remaining = max(run.deadline - time.monotonic(), 1.0)
            if step.get("timeout"):
                remaining = min(remaining, _parse_duration(step["timeout"], "timeout"))
            run.current_dir = directory
            step_timer = threading.Timer(remaining, _stop_children, args=(directory,))
            step_timer.daemon = True
            step_timer.start()
            try:
                code = engine.build(directory, kept, lambda line: run.log.line(f"{label}: {line}"), timeout_s=remaining)
            finally:
                step_timer.cancel()
                run.current_dir = None
            return code, None
        if command == "tag" and len(args) == 3:
            ok = engine.tag(args[1], args[2])
            if not ok:
                run.log.line(f"{label}: Error response from daemon: No such image: {args[1]}")
            return (0 if ok else 1), None
        if command == "push" and len(args) >= 2:
            return self._push_step(run, label, args[-1]), None
        return 1, (
            f'Build step {index} "{step["name"]}" failed: the emulator runs only docker build, tag and push, '
            f"not `docker {command}`"
        )

    def _step_dir(self, run: _Run, step: dict[str, Any]) -> Path | None:
        raw = step.get("dir", "")
        if raw == "/workspace" or raw.startswith("/workspace/"):
            raw = raw[len("/workspace") :]
        elif raw.startswith("/"):
            return None  # an absolute dir outside /workspace: nothing of the build lives there
        directory = (run.workspace / raw.lstrip("/")).resolve()
        root = run.workspace.resolve()
        return directory if directory.is_relative_to(root) else None

    def _push_step(self, run: _Run, label: str, image: str) -> int:
        engine = self.emulator.engine
        assert engine is not None
        local_id = engine.image_id(image)
        if local_id is None:
            run.log.line(f"{label}: An image does not exist locally with the tag: {image}")
            return 1
        try:
            digest = self._record_built(run, image, local_id)
        except ApiError as exc:
            run.log.line(f"{label}: {exc.message}")
            return 1
        run.log.line(f"{label}: {image}: digest: {digest} size: {engine.image_size(image)}")
        return 0

    def _record_built(self, run: _Run, image: str, local_id: str) -> str:
        engine = self.emulator.engine
        assert engine is not None
        ref = artifactregistry.parse_image_ref(image)
        if ref is None:
            raise failed_precondition(
                f'cannot push "{image}": the emulator pushes only to Artifact Registry (LOCATION-docker.pkg.dev/...) '
                "and gcr.io"
            )
        self._authorize_push(run, ref)
        tags = [] if ref.digest else [ref.tag or "latest"]
        artifactregistry.record_image(
            self.emulator,
            ref.project,
            ref.location,
            ref.repository,
            ref.image,
            tags,
            local_id,
            engine.image_size(image),
            True,
            local_id,
        )
        return local_id

    def _placeholder_digest(self, run: _Run, image: str) -> str:
        doc = self._get(run.build_id)
        resolved = doc.get("sourceProvenance", {}).get("resolvedStorageSource")
        hashes = ""
        if resolved:
            try:
                obj = storage.get_object(self.emulator, resolved["bucket"], resolved["object"])
                hashes = f"{obj.get('crc32c', '')}:{obj.get('md5Hash', '')}"
            except ApiError:
                hashes = ""
        return "sha256:" + hashlib.sha256(f"{hashes}\n{image}".encode()).hexdigest()

    def _record_placeholder(self, run: _Run, image: str) -> str:
        ref = artifactregistry.parse_image_ref(image)
        if ref is None:
            raise failed_precondition(
                f'cannot push "{image}": the emulator pushes only to Artifact Registry (LOCATION-docker.pkg.dev/...) '
                "and gcr.io"
            )
        self._authorize_push(run, ref)
        digest = ref.digest or self._placeholder_digest(run, image)
        tags = [] if ref.digest else [ref.tag or "latest"]
        artifactregistry.record_image(
            self.emulator, ref.project, ref.location, ref.repository, ref.image, tags, digest, 0, False, None
        )
        return digest

    def _push_images(self, run: _Run, doc: dict[str, Any], results: dict[str, Any]) -> tuple[str, str] | None:
        engine = self.emulator.engine
        images: list[str] = doc.get("images", [])
        if engine is not None:
            missing = [image for image in images if engine.image_id(image) is None]
            if missing:
                # Cloud Build's wording when an `images` entry was not produced by the steps.
                detail = "failed to find one or more images after execution of build steps: " + json.dumps(missing)
                run.log.line(f"ERROR: {detail}")
                return detail, "PUSH_IMAGE_NOT_FOUND"
        built: list[dict[str, Any]] = []
        for image in images:
            self._checkpoint(run)
            started = _now()
            ref = artifactregistry.parse_image_ref(image)
            run.log.line(f"Pushing {image}")
            if ref is not None:
                run.log.line(f"The push refers to repository [{ref.base_uri}]")
            try:
                if engine is None:
                    digest = self._record_placeholder(run, image)
                    size = 0
                else:
                    local_id = engine.image_id(image)
                    assert local_id is not None
                    digest = self._record_built(run, image, local_id)
                    size = engine.image_size(image)
            except ApiError as exc:
                run.log.line(exc.message)
                run.log.line("ERROR")
                run.log.line(f'ERROR: failed to push because we ran out of retries: "{image}": {exc.message}')
                return f'failed to push image "{image}": {exc.message}', "PUSH_FAILED"
            assert ref is not None
            run.log.line(f"{ref.tag or ('latest' if not ref.digest else ref.digest)}: digest: {digest} size: {size}")
            entry: dict[str, Any] = {
                "name": image,
                "digest": digest,
                "pushTiming": {"startTime": started, "endTime": _now()},
            }
            entry["artifactRegistryPackage"] = f"{ref.repository_name}/packages/{quote(ref.image, safe='')}"
            built.append(entry)
            results["images"] = built
            self._update(run, run.build_id, results=results)
        return None

    # -- other calls ------------------------------------------------------------------------------------------------
    def cancel(self, req: Request, project: str, location: str, build_id: str) -> dict[str, Any]:
        doc = self._get_scoped(project, location, build_id)
        self.emulator.authorize(req, "cloudbuild.builds.update", doc["name"])
        if doc["status"] in TERMINAL:
            # Cancelling a finished build is a 400 (the Cloud Build team's word in knative/build#54).
            raise failed_precondition(f"Build {build_id} has already finished with status {doc['status']}")
        with self._runs_lock:
            self._cancel_requests.setdefault(build_id, threading.Event()).set()
            run = self._runs.get(build_id)
        if run is not None and run.current_dir is not None:
            threading.Thread(target=_stop_children, args=(run.current_dir,), daemon=True).start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            doc = self._get(build_id)
            if doc["status"] in TERMINAL:
                return _public(doc)
            time.sleep(0.05)
        # The runner is stuck in something that does not stop: the build is cancelled all the same.
        return _public(
            self._update(None, build_id, status="CANCELLED", statusDetail="Build was cancelled", finishTime=_now())
        )

    def _get_scoped(self, project: str, location: str, build_id: str) -> dict[str, Any]:
        doc = self._get(build_id)
        if doc["projectId"] != project or doc["name"].split("/")[3] != location:
            raise not_found(f'Requested entity was not found. Build "{build_id}" not found.')
        return doc

    def get(self, req: Request, project: str, location: str, build_id: str) -> dict[str, Any]:
        doc = self._get_scoped(project, location, build_id)
        self.emulator.authorize(req, "cloudbuild.builds.get", doc["name"])
        return _public(doc)

    def list_builds(self, req: Request, project: str, location: str) -> dict[str, Any]:
        self.emulator.authorize(req, "cloudbuild.builds.list", f"projects/{project}/locations/{location}")
        predicate = _parse_filter(req.param("filter") or "")
        with self.emulator.state.lock:
            docs = [
                _public(d)
                for d in self.emulator.state.table(BUILDS).values()
                if d["projectId"] == project and d["name"].split("/")[3] == location
            ]
        docs = [d for d in docs if predicate(d)]
        docs.sort(key=lambda d: d["createTime"], reverse=True)
        return paginate(docs, req, key="builds", default=25)

    def cancel_operation(self, req: Request, name: str) -> dict[str, Any]:
        operation = self.emulator.get_operation(name)
        build = operation.get("metadata", {}).get("build", {})
        if not build.get("id"):
            raise not_found(f"Operation {name} not found.")
        doc = self._get(build["id"])
        self.cancel(req, doc["projectId"], doc["name"].split("/")[3], doc["id"])
        return {}

    def recover(self) -> None:
        """Builds left running by a previous emulator process cannot continue: end them as INTERNAL_ERROR."""
        with self.emulator.mutation():
            for doc in self.emulator.state.table(BUILDS).values():
                if doc.get("status") in TERMINAL:
                    continue
                doc.update(
                    status="INTERNAL_ERROR",
                    statusDetail="the emulator restarted while the build was running",
                    finishTime=_now(),
                )
                link = self.emulator.state.table(BUILD_OPERATIONS).get(doc["id"], {})
                operation = self.emulator.state.table("operations").get(link.get("operation", ""))
                if operation is not None and not operation.get("done"):
                    operation.update(
                        done=True,
                        metadata={"@type": METADATA_TYPE, "build": _public(doc)},
                        error={"code": 13, "message": "the emulator restarted while the build was running"},
                    )


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of the Build to answer with."""
    return _copy(doc)


def _engine_build_args(args: list[str]) -> tuple[list[str], list[str]]:
    """docker build flags for the local engine: (kept, dropped) — see the module docstring for why each is dropped."""
    kept: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--network", "--cache-from", "--progress") and i + 1 < len(args):
            if arg == "--network" and args[i + 1] != "cloudbuild":
                kept += [arg, args[i + 1]]
            else:
                dropped.append(f"{arg} {args[i + 1]}")
            i += 2
            continue
        if arg == "--network=cloudbuild" or arg.startswith(("--cache-from=", "--progress=")):
            dropped.append(arg)
        else:
            kept.append(arg)
        i += 1
    return kept, dropped


def _parse_filter(text: str) -> Any:
    """A small subset of ListBuilds' filter: ``status="X"``, ``tags="X"``, ``build_id="X"`` joined by AND / OR."""
    text = text.strip()
    if not text:
        return lambda doc: True
    clauses = [[term.strip() for term in re.split(r"\s+AND\s+", group)] for group in re.split(r"\s+OR\s+", text)]
    parsed: list[list[tuple[str, str]]] = []
    for group in clauses:
        terms = []
        for term in group:
            match = re.fullmatch(r'\(?\s*(status|tags|build_id|id|trigger_id)\s*=\s*"([^"]*)"\s*\)?', term)
            if match is None:
                raise invalid_argument(
                    f"Invalid filter {text!r}: the emulator supports status, tags and build_id equality terms "
                    "joined by AND / OR"
                )
            terms.append((match[1], match[2]))
        parsed.append(terms)

    def matches(doc: dict[str, Any]) -> bool:
        def term_ok(key: str, value: str) -> bool:
            if key == "status":
                return bool(doc.get("status") == value)
            if key == "tags":
                return value in doc.get("tags", [])
            if key == "trigger_id":
                return bool(doc.get("buildTriggerId") == value)
            return bool(doc.get("id") == value)

        return any(all(term_ok(k, v) for k, v in group) for group in parsed)

    return matches


def register(emulator: Emulator) -> None:
    surface = CloudBuild(emulator)
    surface.recover()
    router = emulator.router

    @router.route("POST", "/v1/projects/{project}/builds")
    def create_global(req: Request, project: str) -> dict[str, Any]:
        return surface.create(req, project, "global")

    @router.route("POST", "/v1/projects/{project}/locations/{location}/builds")
    def create_regional(req: Request, project: str, location: str) -> dict[str, Any]:
        return surface.create(req, project, location)

    @router.route("GET", "/v1/projects/{project}/builds")
    def list_global(req: Request, project: str) -> dict[str, Any]:
        return surface.list_builds(req, project, "global")

    @router.route("GET", "/v1/projects/{project}/locations/{location}/builds")
    def list_regional(req: Request, project: str, location: str) -> dict[str, Any]:
        return surface.list_builds(req, project, location)

    @router.route("GET", "/v1/projects/{project}/builds/{build}")
    def get_global(req: Request, project: str, build: str) -> dict[str, Any]:
        return surface.get(req, project, "global", build)

    @router.route("GET", "/v1/projects/{project}/locations/{location}/builds/{build}")
    def get_regional(req: Request, project: str, location: str, build: str) -> dict[str, Any]:
        return surface.get(req, project, location, build)

    @router.route("POST", "/v1/projects/{project}/builds/{build}:cancel")
    def cancel_global(req: Request, project: str, build: str) -> dict[str, Any]:
        return surface.cancel(req, project, "global", build)

    @router.route("POST", "/v1/projects/{project}/locations/{location}/builds/{build}:cancel")
    def cancel_regional(req: Request, project: str, location: str, build: str) -> dict[str, Any]:
        return surface.cancel(req, project, location, build)

    @router.route("GET", "/v1/operations/{name=**}")
    def get_global_operation(req: Request, name: str) -> dict[str, Any]:
        return emulator.get_operation(f"operations/{name}")

    @router.route("POST", "/v1/operations/{name=**}:cancel")
    def cancel_global_operation(req: Request, name: str) -> dict[str, Any]:
        return surface.cancel_operation(req, f"operations/{name}")

    @router.route("GET", "/v1/projects/{project}/locations/{location}/operations/{operation}")
    def get_operation(req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        return emulator.get_operation(f"projects/{project}/locations/{location}/operations/{operation}")

    @router.route("POST", "/v1/projects/{project}/locations/{location}/operations/{operation}:cancel")
    def cancel_operation(req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        return surface.cancel_operation(req, f"projects/{project}/locations/{location}/operations/{operation}")

    @router.route("GET", "/v1/projects/{project}/locations/{location}/defaultServiceAccount")
    def default_service_account(req: Request, project: str, location: str) -> dict[str, Any]:
        return {
            "name": f"projects/{project}/locations/{location}/defaultServiceAccount",
            "serviceAccountEmail": _default_service_account(emulator, project),
        }

    @router.route("GET", "/_emulator/builds/{build}/log")
    def build_log(req: Request, build: str) -> Response:
        surface._get(build)
        path = emulator.blob_dir / "cloudbuild" / "logs" / f"{build}.txt"
        data = path.read_bytes() if path.exists() else b""
        return Response(200, data, {"Content-Type": "text/plain; charset=utf-8"})
