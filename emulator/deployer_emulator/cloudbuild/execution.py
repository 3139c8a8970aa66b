"""A build from QUEUED to a terminal status: workspace, timeout, the log object, the operation's end."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from deployer_emulator.cloudbuild.base import _public, _Run, _Stop
from deployer_emulator.cloudbuild.config import BUILD_TYPE, MAX_TIMEOUT_S, NOT_EXECUTED, _parse_duration
from deployer_emulator.cloudbuild.logs import _LogWriter
from deployer_emulator.cloudbuild.steps import StepRunner
from deployer_emulator.common import now_rfc3339
from deployer_emulator.core import OperationHandle
from deployer_emulator.errors import ApiError
from deployer_emulator.storage.base import parse_gs_url
from deployer_emulator.storage.store import bucket_exists, ensure_bucket


class Execution(StepRunner):
    """Works a build in the background and finishes its operation."""

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
        bucket, prefix = parse_gs_url(doc["logsBucket"])
        if not bucket_exists(self.emulator, bucket):
            # The default buckets are created on first use (Google's own, or the regional user-owned one).
            ensure_bucket(self.emulator, bucket, doc["projectId"])
        name = f"log-{doc['id']}.txt"
        return bucket, f"{prefix}/{name}" if prefix else name

    def _execute(self, run: _Run, doc: dict[str, Any]) -> dict[str, Any]:
        build_id = run.build_id
        log = run.log
        timing: dict[str, Any] = {}
        try:
            self._checkpoint(run)
            self._update(run, build_id, status="WORKING", startTime=now_rfc3339())
            log.line(f'starting build "{build_id}"')
            log.line("")
            log.line("FETCHSOURCE")
            log.flush()  # phase headers reach the log object at once; lines follow a few times a second
            started = now_rfc3339()
            failure = self._fetch_source(run, doc)
            timing["FETCHSOURCE"] = {"startTime": started, "endTime": now_rfc3339()}
            self._update(run, build_id, timing=timing)
            if failure:
                return self._finish(run, "FAILURE", failure, failure_type="FETCH_SOURCE_FAILED", detail=failure)
            self._checkpoint(run)
            log.line("BUILD")
            log.flush()
            started = now_rfc3339()
            failure_info = self._run_steps(run, doc)
            timing["BUILD"] = {"startTime": started, "endTime": now_rfc3339()}
            self._update(run, build_id, timing=timing)
            if failure_info is not None:
                status_detail, failure_type, detail = failure_info
                return self._finish(run, "FAILURE", status_detail, failure_type=failure_type, detail=detail)
            self._checkpoint(run)
            results: dict[str, Any] = {"buildStepImages": ["" for _ in doc["steps"]]}
            if doc.get("images"):
                log.line("PUSH")
                log.flush()
                started = now_rfc3339()
                push_failure = self._push_images(run, doc, results)
                timing["PUSH"] = {"startTime": started, "endTime": now_rfc3339()}
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
        changes: dict[str, Any] = {"status": status, "statusDetail": status_detail, "finishTime": now_rfc3339()}
        changes["steps"] = steps
        if failure_type is not None:
            changes["failureInfo"] = {"type": failure_type, "detail": detail or status_detail or ""}
        final = self._update(run, run.build_id, **changes)
        return _public(final)
