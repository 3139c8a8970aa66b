"""Services: create, get, list, update, delete; what the URL shows without an engine; restore after a restart."""

from __future__ import annotations

import copy
import random
import string
import time
from typing import Any

from deployer_emulator.common import caller_email, now_rfc3339
from deployer_emulator.core import OperationHandle, Request, Response, paginate
from deployer_emulator.errors import ApiError, already_exists
from deployer_emulator.protos import parse, to_json
from deployer_emulator.run.base import (
    FAILED,
    INTERNAL,
    POLICIES,
    RECONCILING,
    REVISIONS,
    SERVICE_TYPE,
    SERVICES,
    _apply_mask,
    _check_query,
    _done_operation,
    _etag,
    _reconciling_conditions,
    _revision_conditions,
    _service_missing,
    _short,
    _split_service,
)
from deployer_emulator.run.quota import check_run_quota
from deployer_emulator.run.reconcile import Reconciler
from deployer_emulator.run.validation import (
    _OUTPUT_ONLY,
    _TEMPLATE_TO_REVISION,
    check_service_id,
    desired_state,
    normalize_service,
)


class Services(Reconciler):
    """The service handlers."""

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
            **self._new_doc(name, now),
            "launchStage": service_doc.get("launchStage", "GA"),
            "service": service_doc["name"],
            "reconciling": True,
            "observedGeneration": "1",
            "conditions": _revision_conditions(RECONCILING, now),
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
        desired = normalize_service(
            spec, f"{request}.service", service_id=service_id, project_number=number, location=location
        )
        check_run_quota(self.emulator, project, location, desired["template"])
        self._authorize_act_as(req, project, desired)
        name = f"projects/{project}/locations/{location}/services/{service_id}"
        now = now_rfc3339()
        who = caller_email(req.caller)
        doc: dict[str, Any] = {
            **desired,
            **self._new_doc(name, now),
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
            desired = normalize_service(
                merged, f"{request}.service", service_id=service, project_number=number, location=location
            )
            check_run_quota(self.emulator, project, location, desired["template"])
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
            now = now_rfc3339()
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
            who = caller_email(req.caller)
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
            doc = self._stored_copy(SERVICES, name, _service_missing(project, location, service))
            self._check_etag(req, doc, "service")
            if req.flag("validateOnly"):
                return _done_operation(self._operation_name(project, location), SERVICE_TYPE, doc)
            del self._table(SERVICES)[name]
            for revision in [r for r in self._table(REVISIONS) if r.startswith(name + "/revisions/")]:
                del self._table(REVISIONS)[revision]
            self._table(POLICIES).pop(name, None)
            self._table(INTERNAL).pop(name, None)
            doc["deleteTime"] = now_rfc3339()
            doc = self._canonical_service(doc)

        def work(handle: OperationHandle) -> dict[str, Any]:
            # After any deploy still in flight: it aborts on the missing service, and what it started goes too.
            with self.runtime.service_lock(name):
                self.runtime.teardown(name)
            return {"@type": SERVICE_TYPE, **doc}

        return self.emulator.start_operation(
            self._operation_name(project, location), {"@type": SERVICE_TYPE, **doc}, work
        )

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
                            "lastTransitionTime": now_rfc3339(),
                            "message": "The emulator restarted while this service was deployed.",
                        }
                    self._store_service(doc)
                if doc.get("trafficStatuses"):
                    self._reconcile(name, doc["uid"], int(doc.get("observedGeneration") or doc["generation"]), None)
            except (ApiError, OSError):
                continue  # the URL answers 503 until the next deploy
