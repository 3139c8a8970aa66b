"""Plans: the ordered steps a mutating command takes, computed before anything changes; and the result type
every mutating command reports, which owns its plan.

A step knows the resource it touches, whether it is a no-op, and the request it would send. ``--dry-run`` renders
the plan; apply runs each step's action in order. A second run over an unchanged world is all no-ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    NOOP = "noop"
    CREATE = "create"
    UPDATE = "update"
    UPLOAD = "upload"
    BUILD = "build"
    DELETE = "delete"
    RUN = "run"


@dataclass
class Step:
    action: Action
    resource: str  # what it touches, e.g. "gs://p_cloudbuild" or "projects/p/locations/r/services/api"
    summary: str  # one line a person reads: what and why
    request: dict[str, Any] | None = None  # {"method", "url", "body"}: the request it would send (None for no-ops)
    apply: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def mutating(self) -> bool:
        return self.action is not Action.NOOP

    def to_json(self, *, with_request: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {"action": self.action.value, "resource": self.resource, "summary": self.summary}
        if with_request and self.request is not None:
            doc["request"] = self.request
        return doc


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.mutating]

    def to_json(self, *, with_request: bool = False) -> list[dict[str, Any]]:
        return [s.to_json(with_request=with_request) for s in self.steps]

    def apply(self) -> None:
        for step in self.steps:
            if step.apply is not None:
                step.apply()


@dataclass
class Result:
    """What a mutating command did or would do: its kind's own fields (``fields``) and the plan behind them.

    Every kind's JSON document ends with the same tail: ``dry_run``, ``changed`` and ``steps`` (with the requests
    in a dry run). The plan's steps fill the kind's fields in as they apply.
    """

    plan: Plan = field(default_factory=Plan, kw_only=True)
    dry_run: bool = field(default=False, kw_only=True)

    @property
    def changed(self) -> bool:
        return bool(self.plan.changes)

    def fields(self) -> dict[str, Any]:
        """The kind's own part of the JSON document."""
        return {}

    def to_json(self, *, with_requests: bool = False) -> dict[str, Any]:
        return {
            **self.fields(),
            "dry_run": self.dry_run,
            "changed": self.changed,
            "steps": self.plan.to_json(with_request=with_requests),
        }

    def apply(self) -> None:
        self.plan.apply()
