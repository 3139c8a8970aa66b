"""Reconciliation: a service's new revision started, traffic moved when it is ready, conditions set."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from deployer_emulator.common import now_rfc3339
from deployer_emulator.errors import ApiError
from deployer_emulator.run.base import (
    _PORT_GUIDE,
    _TRAFFIC_REVISION_MISSING,
    FAILED,
    INTERNAL,
    LATEST,
    RECONCILING,
    REVISIONS,
    SERVICE_TYPE,
    SERVICES,
    SUCCEEDED,
    _condition,
    _revision_conditions,
    _short,
)
from deployer_emulator.run.proxy import Target
from deployer_emulator.run.runtime import RevisionFailed
from deployer_emulator.run.state import RunBase


class Reconciler(RunBase):
    """Brings a service's revisions and traffic to what its latest generation asks."""

    # -- reconciliation ----------------------------------------------------------------------------------------
    def _reconcile(self, name: str, uid: str, generation: int, new_revision: str | None) -> dict[str, Any]:
        with self.runtime.service_lock(name):
            return self._reconcile_locked(name, uid, generation, new_revision)

    def _current(self, name: str, uid: str) -> dict[str, Any]:
        with self.emulator.state.lock:
            doc = self._table(SERVICES).get(name)
            if doc is None or doc.get("uid") != uid:
                raise ApiError("ABORTED", f"Service {_short(name)} was deleted while it was being deployed.")
            return copy.deepcopy(doc)

    def _reconcile_locked(self, name: str, uid: str, generation: int, new_revision: str | None) -> dict[str, Any]:
        if new_revision is not None:
            with self.emulator.state.lock:
                revision = copy.deepcopy(self._table(REVISIONS).get(new_revision))
            if revision is None:
                raise ApiError("ABORTED", f"Revision {_short(new_revision)} was deleted while it was being deployed.")
            try:
                self.runtime.ensure(revision)
            except RevisionFailed as failure:
                self._revision_failed(new_revision, failure)
                message = failure.message(_short(new_revision))
                self._service_failed(name, uid, generation, message, revision_failed=True)
                raise ApiError(failure.status, message) from None
            self._revision_ready(new_revision)
        doc = self._current(name, uid)
        if new_revision is not None:
            doc["latestReadyRevision"] = new_revision
        latest_ready = doc.get("latestReadyRevision", "")
        revisions = self._table(REVISIONS)
        weighted: dict[str, int] = {}
        tagged: dict[str, str] = {}
        statuses: list[dict[str, Any]] = []
        # run_v2 traffic_target.proto: TrafficTargetAllocationType LATEST "allocates instances to the Service's latest
        # ready Revision", REVISION "to a Revision by name"; a TrafficTarget's percent "defaults to zero" and its tag
        # is "part of the URI to exclusively reference this target" (so a 0 % tagged revision still runs, below).
        for target in doc["traffic"]:
            if target["type"] == LATEST:
                revision_name = latest_ready
                if not revision_name:
                    created = _short(doc.get("latestCreatedRevision", ""))
                    message = f"Revision '{created}' is not ready and cannot serve traffic."
                    self._service_failed(name, uid, generation, message, revision_failed=False)
                    raise ApiError("FAILED_PRECONDITION", message)
            else:
                revision_name = f"{name}/revisions/{target['revision']}"
                with self.emulator.state.lock:
                    target_doc = revisions.get(revision_name)
                if target_doc is None:
                    message = _TRAFFIC_REVISION_MISSING.format(revision=target["revision"])
                    self._service_failed(name, uid, generation, message, revision_failed=False)
                    raise ApiError("INTERNAL", message)
                if _condition(target_doc, "Ready") != SUCCEEDED:
                    message = f"Revision '{target['revision']}' is not ready and cannot serve traffic."
                    self._service_failed(name, uid, generation, message, revision_failed=False)
                    raise ApiError("FAILED_PRECONDITION", message)
            percent = int(target.get("percent", 0))
            if percent:
                weighted[revision_name] = weighted.get(revision_name, 0) + percent
            if target.get("tag"):
                tagged[target["tag"]] = revision_name
            # TrafficTargetStatus repeats the target's type, revision, percent and tag, and adds uri ("Displays the
            # target URI") for a tagged one; a LATEST target names no revision there, as in the request.
            status = {k: v for k, v in target.items() if k in ("type", "revision", "percent", "tag")}
            statuses.append(status)
        targets: dict[str, Target] = {}
        for revision_name in {*weighted, *tagged.values()}:
            with self.emulator.state.lock:
                revision = copy.deepcopy(revisions.get(revision_name))
            if revision is None:
                continue
            try:
                targets[revision_name] = self.runtime.ensure(revision)
            except RevisionFailed as failure:
                message = failure.message(_short(revision_name))
                self._service_failed(name, uid, generation, message, revision_failed=False)
                raise ApiError(failure.status, message) from None
        with self.emulator.mutation():
            internal = self._table(INTERNAL).setdefault(name, {"revisionCounter": 0, "templates": {}})
            if self.emulator.engine is not None:
                tag_ports = {tag: int(port) for tag, port in internal.get("tagPorts", {}).items()}
                tag_urls = self.runtime.route(
                    name,
                    [(targets[r], p) for r, p in weighted.items() if r in targets],
                    {tag: targets[r] for tag, r in tagged.items() if r in targets},
                    tag_ports,
                )
                internal["tagPorts"] = {tag: int(url.rsplit(":", 1)[1]) for tag, url in tag_urls.items()}
            else:
                tag_urls = {tag: self._tag_uri(name, tag) for tag in tagged}
            for status in statuses:
                if status.get("tag"):
                    status["uri"] = tag_urls[status["tag"]]
            stored = self._table(SERVICES).get(name)
            if stored is None or stored.get("uid") != uid:
                raise ApiError("ABORTED", f"Service {_short(name)} was deleted while it was being deployed.")
            now = now_rfc3339()
            stored = copy.deepcopy(stored)
            stored["latestReadyRevision"] = latest_ready
            stored["trafficStatuses"] = statuses
            stored["observedGeneration"] = str(generation)
            if int(stored["generation"]) == generation:
                stored["reconciling"] = False
                stored["terminalCondition"] = {"type": "Ready", "state": SUCCEEDED, "lastTransitionTime": now}
                stored["conditions"] = [
                    {"type": "RoutesReady", "state": SUCCEEDED, "lastTransitionTime": now},
                    {"type": "ConfigurationsReady", "state": SUCCEEDED, "lastTransitionTime": now},
                ]
            stored = self._store_service(stored)
        self.runtime.activate(name, set(targets))
        return {"@type": SERVICE_TYPE, **stored}

    def _revision_ready(self, name: str) -> None:
        self._settle_revision(name, lambda doc, now: _revision_conditions(SUCCEEDED, now))

    def _revision_failed(self, name: str, failure: RevisionFailed) -> None:
        def conditions(doc: dict[str, Any], now: str) -> list[dict[str, Any]]:
            message = failure.summary
            if failure.health:
                message += f"\n\nLogs URL: {doc.get('logUri', '')}\n{_PORT_GUIDE}"
            if failure.detail:
                message += f"\n\n{failure.detail}"
            ready: dict[str, Any] = {
                "type": "Ready",
                "state": FAILED,
                "message": message,
                "lastTransitionTime": now,
                "severity": "ERROR",
            }
            if failure.reason:
                ready["reason"] = failure.reason
            healthy: dict[str, Any] = {"type": "ContainerHealthy", "lastTransitionTime": now}
            resources: dict[str, Any] = {"type": "ResourcesAvailable", "lastTransitionTime": now}
            if failure.health:
                healthy.update(
                    state=FAILED, message=message, revisionReason="HEALTH_CHECK_CONTAINER_ERROR", severity="ERROR"
                )
                resources.update(state=SUCCEEDED)
            else:
                healthy.update(state=RECONCILING)
                resources.update(state=FAILED, message=message, severity="ERROR")
                if failure.reason:
                    resources["reason"] = failure.reason
            return [ready, healthy, resources]

        self._settle_revision(name, conditions)

    def _settle_revision(self, name: str, conditions_of: Callable[[dict[str, Any], str], list[dict[str, Any]]]) -> None:
        """A revision stops reconciling, with the conditions ``conditions_of(revision, now)`` gives it."""
        now = now_rfc3339()
        with self.emulator.mutation():
            doc = self._table(REVISIONS).get(name)
            if doc is None:
                return
            doc = copy.deepcopy(doc)
            conditions = conditions_of(doc, now)
            doc["reconciling"] = False
            doc["updateTime"] = now
            doc["conditions"] = conditions
            self._store_revision(doc)

    def _service_failed(self, name: str, uid: str, generation: int, message: str, *, revision_failed: bool) -> None:
        """Google keeps the serving state of the last good revision: traffic_statuses, observed_generation and
        latest_ready_revision stay (run_v2 types/service.py, Service.reconciling); the conditions say why."""
        now = now_rfc3339()
        with self.emulator.mutation():
            doc = self._table(SERVICES).get(name)
            if doc is None or doc.get("uid") != uid:
                return
            doc = copy.deepcopy(doc)
            if int(doc["generation"]) == generation:
                doc["reconciling"] = False
            doc["terminalCondition"] = {
                "type": "Ready",
                "state": FAILED,
                "message": message,
                "lastTransitionTime": now,
                "severity": "ERROR",
            }
            routes = {
                "type": "RoutesReady",
                "state": FAILED,
                "message": message,
                "lastTransitionTime": now,
                "severity": "ERROR",
            }
            configurations: dict[str, Any] = {"type": "ConfigurationsReady", "lastTransitionTime": now}
            if revision_failed:
                configurations.update(state=FAILED, message=message, reason="REVISION_FAILED", severity="ERROR")
            else:
                configurations.update(state=SUCCEEDED)
            doc["conditions"] = [routes, configurations]
            self._store_service(doc)
