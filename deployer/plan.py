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
    # Has the server check the request without applying it (validate_only), for a dry run; None where the API
    # offers no such check.
    validate: Callable[[], object] | None = field(default=None, repr=False, compare=False)
    # The question a step that loses something (a VM's boot disk) asks before it applies, even without --diff.
    confirm: str | None = None

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
    # Where an apply got to, so an interrupt can say what was done and what was running (not compared).
    applied: list[Step] = field(default_factory=list, compare=False, repr=False)
    running: Step | None = field(default=None, compare=False, repr=False)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.mutating]

    @property
    def questions(self) -> list[str]:
        """What the plan's changes must ask before they apply (a recreate that loses a boot disk)."""
        return [s.confirm for s in self.changes if s.confirm]

    def to_json(self, *, with_request: bool = False) -> list[dict[str, Any]]:
        return [s.to_json(with_request=with_request) for s in self.steps]

    def validate(self) -> None:
        """A dry run's server-side check of each change that has one; nothing is created or changed."""
        for step in self.changes:
            if step.validate is not None:
                step.validate()

    def apply(self) -> None:
        for step in self.steps:
            if step.apply is not None:
                self.running = step
                step.apply()
                self.applied.append(step)
        self.running = None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a flow, with what it knows: whether the plan had started to apply, the step that was running,
    the steps done and those left. It is a KeyboardInterrupt, so whatever catches one still does."""

    def __init__(self, plan: Plan | None) -> None:
        super().__init__()
        self.plan = plan

    def describe(self) -> tuple[str, dict[str, Any]]:
        """The message, and the same facts for the JSON error document."""
        plan = self.plan
        if plan is None or (plan.running is None and not plan.applied):
            return "interrupted before any change was made", {"changes_started": False}
        running = plan.running
        done = [s for s in plan.applied if s.mutating]
        left = [s for s in plan.changes if s not in plan.applied and s is not running]
        parts = []
        if running is not None:
            parts.append(f"while this step was running: {running.summary} ({running.resource}); it may be half-done")
        parts.append(f"done: {'; '.join(s.summary for s in done)}" if done else "no step had finished")
        if left:
            parts.append(f"not started: {'; '.join(s.summary for s in left)}")
        facts = {
            "changes_started": True,
            "running": running.to_json() if running else None,
            "done": [s.to_json() for s in done],
            "left": [s.to_json() for s in left],
        }
        return "interrupted " + "; ".join(parts), facts


def attributes(value: object, *names: str) -> dict[str, Any]:
    """``{name: value.name}`` for each name, in that order: a JSON document's plain fields, spelled once."""
    return {name: getattr(value, name) for name in names}


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
