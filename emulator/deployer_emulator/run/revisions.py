"""Revisions: list, get, delete, and a revision's container logs."""

from __future__ import annotations

import copy
from typing import Any

from deployer_emulator.common import now_rfc3339
from deployer_emulator.core import OperationHandle, Request, Response, paginate
from deployer_emulator.errors import ApiError
from deployer_emulator.run.base import (
    REVISION_TYPE,
    REVISIONS,
    SERVICES,
    _check_query,
    _done_operation,
    _revision_missing,
    _short,
)
from deployer_emulator.run.state import RunBase


class Revisions(RunBase):
    """The revision handlers."""

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
            doc = self._stored_copy(REVISIONS, name, _revision_missing(project, location, revision))
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
            self._check_etag(req, doc, "revision")
            if req.flag("validateOnly"):
                return _done_operation(self._operation_name(project, location), REVISION_TYPE, doc)
            del self._table(REVISIONS)[name]
            doc["deleteTime"] = now_rfc3339()

        def work(handle: OperationHandle) -> dict[str, Any]:
            self.runtime.stop(name)
            return {"@type": REVISION_TYPE, **doc}

        return self.emulator.start_operation(
            self._operation_name(project, location), {"@type": REVISION_TYPE, **doc}, work
        )

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
