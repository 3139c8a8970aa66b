"""Builds: create, get, list (with ``filter``), cancel, their operations' cancel, recovery after a restart."""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from typing import Any

from google.cloud.devtools import cloudbuild_v1

from deployer_emulator import protos
from deployer_emulator.cloudbuild.base import _public
from deployer_emulator.cloudbuild.config import (
    _BUILD_OUTPUT_ONLY,
    _STEP_OUTPUT_ONLY,
    BUILD_OPERATIONS,
    BUILDS,
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT_S,
    METADATA_TYPE,
    TERMINAL,
    _apply_substitutions,
    _default_service_account,
    _parse_duration,
    _validate_after_substitution,
    _validate_steps,
    _validate_substitutions,
)
from deployer_emulator.cloudbuild.execution import Execution
from deployer_emulator.cloudbuild.processes import _stop_children
from deployer_emulator.common import now_rfc3339
from deployer_emulator.core import Request, paginate
from deployer_emulator.errors import ApiError, failed_precondition, invalid_argument, not_found
from deployer_emulator.storage.base import parse_gs_url
from deployer_emulator.storage.store import bucket_exists, get_object


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


class Builds(Execution):
    """The build handlers."""

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

    def _check_log_writes(self, doc: dict[str, Any], build: dict[str, Any]) -> None:
        """A build that logs to a bucket of the user's needs its account to write there, or Cloud Build refuses it
        at create; one that logs to Cloud Logging without logging.logEntries.create loses its logs, with a warning."""
        logging_mode = doc.get("options", {}).get("logging", "LOGGING_UNSPECIFIED")
        account = self._as_build_account(doc)
        if build.get("logsBucket") and logging_mode not in ("CLOUD_LOGGING_ONLY", "NONE"):
            bucket, _ = parse_gs_url(build["logsBucket"])
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
            bucket, _ = parse_gs_url(build["logsBucket"])
            if not bucket_exists(self.emulator, bucket):
                # What Cloud Build answers when the logs bucket cannot be written.
                raise invalid_argument(
                    f'invalid bucket "{bucket}"; builder service account does not have access to the bucket',
                    field="build.logs_bucket",
                )
        now = now_rfc3339()
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
            obj = get_object(self.emulator, bucket, name)
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
            self._update(
                None, build_id, status="CANCELLED", statusDetail="Build was cancelled", finishTime=now_rfc3339()
            )
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
                    finishTime=now_rfc3339(),
                )
                link = self.emulator.state.table(BUILD_OPERATIONS).get(doc["id"], {})
                operation = self.emulator.state.table("operations").get(link.get("operation", ""))
                if operation is not None and not operation.get("done"):
                    operation.update(
                        done=True,
                        metadata={"@type": METADATA_TYPE, "build": _public(doc)},
                        error={"code": 13, "message": "the emulator restarted while the build was running"},
                    )
