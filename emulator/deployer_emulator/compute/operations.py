"""Compute's operations: due work finished by time, its effects on instances, get/wait/list/delete."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from deployer_emulator.common import caller_email
from deployer_emulator.compute.base import (
    API,
    INSTANCE_FACTS,
    INSTANCES,
    OPERATIONS,
    PENDING,
    REQUEST_IDS,
    EngineBase,
    _copy,
    _fingerprint,
    _new_id,
    _operation_name,
    _timestamp,
)
from deployer_emulator.compute.catalogue import CPU_PLATFORM
from deployer_emulator.compute.console import _SERIAL_BUFFER, render_boot_console
from deployer_emulator.compute.errors import _not_found
from deployer_emulator.compute.filters import _filter, _list_response, _order
from deployer_emulator.core import Request


class Operations(EngineBase):
    """Operations, time-driven: each is due after ``compute_operation_s`` and finished by the next look."""

    # -- time: finishing due operations, ending runs at maxRunDuration ------------------------------------------
    def advance(self) -> bool:
        """Finish the operations that are due and apply scheduled terminations; callers hold the state lock.
        True when something changed."""
        now = self._now()
        changed = False
        pending = self._table(PENDING)
        for key in sorted(pending, key=lambda k: float(pending[k]["due"])):
            entry = pending[key]
            action = entry.get("action") or {}
            if action.get("kind") in ("insert", "start"):
                instance = self._table(INSTANCES).get(str(action.get("instance")))
                halfway = float(entry["started"]) + (float(entry["due"]) - float(entry["started"])) / 2
                if instance is not None and now >= halfway and instance.get("status") == "PROVISIONING":
                    instance["status"] = "STAGING"
                    changed = True
            if now < float(entry["due"]):
                continue
            del pending[key]
            self._finish(key, entry, now)
            changed = True
        return self._end_expired_runs(now) or changed

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the lock for a read; time may have finished operations, which are saved (reads save nothing else)."""
        with self.emulator.state.lock:
            changed = self.advance()
            try:
                yield
            finally:
                if changed:
                    self.emulator.state.save()

    def _finish(self, key: str, entry: dict[str, Any], now: float) -> None:
        operation = self._table(OPERATIONS).get(key)
        action = entry.get("action") or {}
        if entry.get("error") is None and action:
            self._apply(action, now)
        if operation is None:
            return
        operation.update(status="DONE", progress=100, endTime=_timestamp(now))
        error = entry.get("error")
        if error is not None:
            operation["error"] = {"errors": [error["error"]]}
            operation["httpErrorStatusCode"] = error["httpErrorStatusCode"]
            operation["httpErrorMessage"] = error["httpErrorMessage"]

    def _apply(self, action: dict[str, Any], now: float) -> None:
        kind = action["kind"]
        key = str(action.get("instance", ""))
        instances = self._table(INSTANCES)
        instance = instances.get(key)
        facts = self._table(INSTANCE_FACTS).setdefault(key, {})
        if instance is None:
            return
        if kind in ("insert", "start"):
            instance["status"] = "RUNNING"
            instance["cpuPlatform"] = CPU_PLATFORM.get(self._shape(instance).family, "Intel Broadwell")
            instance["lastStartTimestamp"] = _timestamp(now)
            facts["runStart"] = now
            self._boot(key, instance, facts)
        elif kind == "reset":
            facts["runStart"] = facts.get("runStart", now)
            self._boot(key, instance, facts)
        elif kind == "stop":
            self._terminate(instance, facts, now)
        elif kind == "delete":
            del instances[key]
            self._table(INSTANCE_FACTS).pop(key, None)
            return
        elif kind == "setMetadata":
            instance["metadata"] = action["metadata"]
        elif kind == "setScheduling":
            instance["scheduling"] = action["scheduling"]
        instance["fingerprint"] = _fingerprint({k: v for k, v in instance.items() if k != "fingerprint"})

    def _terminate(self, instance: dict[str, Any], facts: dict[str, Any], now: float) -> None:
        instance["status"] = "TERMINATED"
        instance["cpuPlatform"] = "Unknown CPU Platform"
        instance["lastStopTimestamp"] = _timestamp(now)
        facts.pop("runStart", None)
        # An ephemeral external address is released when the VM stops; it gets a new one at start
        # (https://cloud.google.com/compute/docs/ip-addresses#ephemeraladdress).
        self._release_addresses(instance, facts)

    def _end_expired_runs(self, now: float) -> bool:
        advance = self._setting("compute_clock_advance_s", 0.0)
        changed = False
        instances = self._table(INSTANCES)
        facts_table = self._table(INSTANCE_FACTS)
        for key in list(instances):
            instance = instances[key]
            scheduling = instance.get("scheduling", {})
            limit = scheduling.get("maxRunDuration")
            facts = facts_table.setdefault(key, {})
            if instance.get("status") != "RUNNING" or not limit or "runStart" not in facts:
                continue
            ends = float(facts["runStart"]) + int(limit.get("seconds", 0)) + int(limit.get("nanos", 0)) / 1e9
            if now + advance < ends:
                continue
            changed = True
            action = scheduling.get("instanceTerminationAction", "STOP")
            self._append_console(
                facts, f"deployer emulator: maxRunDuration reached: instanceTerminationAction {action}.\n"
            )
            if action == "DELETE":
                del instances[key]
                facts_table.pop(key, None)
            else:
                self._terminate(instance, facts, ends)
        return changed

    # -- console -------------------------------------------------------------------------------------------------
    def _boot(self, key: str, instance: dict[str, Any], facts: dict[str, Any]) -> None:
        facts["boots"] = int(facts.get("boots", 0)) + 1
        self._append_console(facts, render_boot_console(instance, str(facts.get("image", "")), facts["boots"]))

    @staticmethod
    def _append_console(facts: dict[str, Any], text: str) -> None:
        raw = (str(facts.get("console", "")) + text).encode()
        dropped = int(facts.get("consoleDropped", 0))
        if len(raw) > _SERIAL_BUFFER:
            cut = len(raw) - _SERIAL_BUFFER
            while cut < len(raw) and raw[cut] & 0xC0 == 0x80:  # never split a UTF-8 character
                cut += 1
            raw, dropped = raw[cut:], dropped + cut
        facts["console"] = raw.decode()
        facts["consoleDropped"] = dropped

    # -- operations ----------------------------------------------------------------------------------------------
    def _start_operation(
        self,
        req: Request,
        *,
        project: str,
        scope: str,
        operation_type: str,
        target: str,
        target_id: str | None,
        action: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a RUNNING ``compute#operation`` in ``scope`` (``zones/Z``, ``regions/R`` or ``global``); it is DONE
        ``compute_operation_s`` later, after ``action`` is applied, or with ``error``. Callers hold the lock."""
        now = self._now()
        name = _operation_name(now)
        key = f"projects/{project}/{scope}/operations/{name}"
        doc: dict[str, Any] = {
            "kind": "compute#operation",
            "id": _new_id(),
            "name": name,
            "operationType": operation_type,
            "targetLink": API + target,
            "status": "RUNNING",
            "progress": 0,
            "insertTime": _timestamp(now),
            "startTime": _timestamp(now),
            "selfLink": API + key,
        }
        if target_id:
            doc["targetId"] = target_id
        if caller_email(req.caller):
            doc["user"] = caller_email(req.caller)
        if scope.startswith("zones/"):
            doc["zone"] = API + f"projects/{project}/{scope}"
        elif scope.startswith("regions/"):
            doc["region"] = API + f"projects/{project}/{scope}"
        request_id = req.param("requestId")
        if request_id:
            doc["clientOperationId"] = request_id
            self._table(REQUEST_IDS)[f"{project} {request_id}"] = {"operation": key}
        self._table(OPERATIONS)[key] = doc
        self._table(PENDING)[key] = {
            "due": now + self._setting("compute_operation_s", 0.2),
            "started": now,
            "action": action,
            "error": error,
        }
        return _copy(doc)

    def _zone_operation(
        self,
        req: Request,
        project: str,
        zone: str,
        operation_type: str,
        key: str,
        target_id: str,
        action: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self._start_operation(
            req,
            project=project,
            scope=f"zones/{zone}",
            operation_type=operation_type,
            target=key,
            target_id=target_id,
            action=action,
            error=error,
        )

    def _change(
        self,
        req: Request,
        project: str,
        permission: str,
        key: str,
        find: Callable[[], tuple[str, dict[str, Any]]],
        act: Callable[[str, dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """A change to one resource: authorized, then under the state lock with due work finished, a retried
        ``requestId`` answered with its first operation, and ``act`` given what ``find`` returns (key, document)."""
        self.emulator.authorize(req, permission, key)
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            found_key, doc = find()
            return act(found_key, doc)

    def _replayed(self, project: str, req: Request) -> dict[str, Any] | None:
        """A request with a requestId Compute has seen answers the first request's operation (requestId docstring)."""
        request_id = req.param("requestId")
        if not request_id:
            return None
        seen = self._table(REQUEST_IDS).get(f"{project} {request_id}")
        if seen is None:
            return None
        operation = self._table(OPERATIONS).get(str(seen["operation"]))
        return _copy(operation) if operation else None

    def get_operation(self, req: Request, project: str, scope: str, operation: str, kind: str) -> dict[str, Any]:
        key = f"projects/{project}/{scope}/operations/{operation}"
        self.emulator.authorize(req, f"compute.{kind}Operations.get", key)
        with self._reading():
            doc = self._table(OPERATIONS).get(key)
            if doc is None:
                raise _not_found(key)
            return _copy(doc)

    def wait_operation(self, req: Request, project: str, scope: str, operation: str, kind: str) -> dict[str, Any]:
        """Returns when the operation is DONE or about two minutes have passed ("the request approaches the 2 minute
        deadline", ZoneOperations.Wait docstring), not done then."""
        key = f"projects/{project}/{scope}/operations/{operation}"
        self.emulator.authorize(req, f"compute.{kind}Operations.get", key)
        deadline = time.monotonic() + self._setting("compute_wait_timeout_s", 120.0)
        while True:
            with self._reading():
                doc = self._table(OPERATIONS).get(key)
                if doc is None:
                    raise _not_found(key)
                if doc.get("status") == "DONE" or time.monotonic() >= deadline:
                    return _copy(doc)
                due = self._table(PENDING).get(key, {}).get("due", 0.0)
            time.sleep(min(0.05, max(0.0, float(due) - self._now())) or 0.005)

    def list_operations(self, req: Request, project: str, scope: str, kind: str) -> dict[str, Any]:
        prefix = f"projects/{project}/{scope}/operations/"
        self.emulator.authorize(req, f"compute.{kind}Operations.list", f"projects/{project}/{scope}")
        predicate = _filter(req)
        with self._reading():
            docs = [_copy(d) for k, d in self._table(OPERATIONS).items() if k.startswith(prefix) and predicate(d)]
        return _list_response("compute#operationList", f"projects/{project}/{scope}/operations", _order(docs, req), req)

    def delete_operation(self, req: Request, project: str, scope: str, operation: str, kind: str) -> dict[str, Any]:
        key = f"projects/{project}/{scope}/operations/{operation}"
        self.emulator.authorize(req, f"compute.{kind}Operations.delete", key)
        with self.emulator.mutation():
            self.advance()
            if self._table(OPERATIONS).pop(key, None) is None:
                raise _not_found(key)
            self._table(PENDING).pop(key, None)
        return {}

    # -- quota -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _release_addresses(instance: dict[str, Any], facts: dict[str, Any]) -> None:
        """Ephemeral external addresses go back to the pool; reserved (static) ones stay with the instance."""
        static = set(facts.get("staticAddresses", []))
        for nic in instance.get("networkInterfaces", []):
            for config in nic.get("accessConfigs", []):
                if config.get("natIP") not in static:
                    config.pop("natIP", None)
