"""A running build, and the state the Cloud Build surface's parts share."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer_emulator import artifactregistry
from deployer_emulator.cloudbuild.config import BUILDS, METADATA_TYPE, TERMINAL
from deployer_emulator.cloudbuild.logs import _LogWriter
from deployer_emulator.cloudbuild.processes import _stop_children
from deployer_emulator.common import copy_doc
from deployer_emulator.core import Emulator, OperationHandle, Request
from deployer_emulator.errors import ApiError, not_found
from deployer_emulator.iam.enforcer import as_caller


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


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of the Build to answer with."""
    return copy_doc(doc)


class BuildBase:
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
            return copy_doc(doc)

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
            snapshot = copy_doc(doc)
        if run is not None and run.handle is not None:
            run.handle.set_metadata({"@type": METADATA_TYPE, "build": snapshot})
        return snapshot

    def _as_build_account(self, doc: dict[str, Any]) -> Request:
        """A request made by the build itself: pushes, source reads and log writes speak for its service account
        (in the strict world; the open world allows everything)."""
        return as_caller(f"serviceAccount:{str(doc['serviceAccount']).rsplit('/', 1)[-1]}")

    def _authorize_push(self, run: _Run, ref: artifactregistry.ImageRef) -> None:
        """A push speaks for the build's account and fails in docker's words when it may not upload."""
        account = as_caller(f"serviceAccount:{run.service_account.rsplit('/', 1)[-1]}")
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

    def _on_timeout(self, run: _Run) -> None:
        run.timed_out.set()
        if run.current_dir is not None:
            _stop_children(run.current_dir)

    def _checkpoint(self, run: _Run) -> None:
        if run.cancel.is_set() or run.timed_out.is_set():
            raise _Stop
