"""The state the Cloud Run surface's parts share."""

from __future__ import annotations

import copy
from typing import Any

from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import ApiError
from deployer_emulator.protos import merge_json, to_json
from deployer_emulator.run.base import INTERNAL, REVISIONS, SERVICES, _service_missing, _split_service, _uuid
from deployer_emulator.run.runtime import Runtime


class RunBase:
    """The Cloud Run state: tables, stored documents, operation names and service URLs."""

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

    def _stored_copy(self, table: str, name: str, missing: ApiError) -> dict[str, Any]:
        """A copy of a stored document (the caller holds the state's lock), or ``missing`` raised."""
        doc = self._table(table).get(name)
        if doc is None:
            raise missing
        return copy.deepcopy(doc)

    @staticmethod
    def _check_etag(req: Request, doc: dict[str, Any], kind: str) -> None:
        """A Delete*Request's ``etag`` that does not match (AIP-154: ABORTED, 409). Unconfirmed wording."""
        etag = req.param("etag")
        if etag and etag != doc.get("etag"):
            raise ApiError("ABORTED", f"The etag '{etag}' does not match the {kind}'s current etag.")

    def _new_doc(self, name: str, now: str) -> dict[str, Any]:
        """What every resource Cloud Run makes starts with: its name, a uid, generation 1, its times."""
        return {"name": name, "uid": _uuid(self.emulator), "generation": "1", "createTime": now, "updateTime": now}

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

    def _canonical_service(self, doc: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import run_v2

        return self._canonical(run_v2.Service, doc)
