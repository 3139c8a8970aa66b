"""Plans: the ordered steps a mutating command takes, computed before anything changes.

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
