"""``deployer traffic``, ``rollback`` and ``promote``: move a Cloud Run service's traffic between its revisions.

Each change is one UpdateService whose ``update_mask`` is ``traffic`` only: nothing else on the service changes and
no revision is made. The plan's step says the split before → after; the flow asks and applies it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies import traffic as split
from deployer.gcp.bodies.traffic import Share
from deployer.gcp.run import RunService
from deployer.plan import Action, Result, Step
from deployer.reporter import Reporter

TRAFFIC_TIMEOUT_S = 300.0
READY = "CONDITION_SUCCEEDED"


@dataclass
class TrafficResult(Result):
    service: str
    project: str
    region: str
    url: str = ""
    before: list[Share] = field(default_factory=list)
    after: list[Share] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)  # short name, ready, image, created
    rolled_back: str = ""  # a promote that stopped: why

    def fields(self) -> dict[str, Any]:
        place = {"service": self.service, "project": self.project, "region": self.region, "url": self.url}
        splits = {"before": [s.to_json() for s in self.before], "after": [s.to_json() for s in self.after]}
        return {**place, **splits, "revisions": self.revisions, "rolled_back": self.rolled_back or None}


@dataclass(frozen=True)
class TrafficChange:
    """What ``deployer traffic``'s flags ask: a split, all to the latest, tags to add (REV=NAME) and to remove."""

    split: str | None = None
    to_latest: bool = False
    tags: tuple[str, ...] = ()
    untags: tuple[str, ...] = ()


def ready(revision: dict[str, Any]) -> bool:
    """A revision's Ready condition (run_v2 Revision.conditions, type "Ready") has succeeded."""
    return any(c.get("type") == "Ready" and c.get("state") == READY for c in revision.get("conditions") or [])


def revision_row(doc: dict[str, Any]) -> dict[str, Any]:
    containers = doc.get("containers") or [{}]
    return {
        "revision": str(doc.get("name", "")).rsplit("/", 1)[-1],
        "ready": ready(doc),
        "image": str(containers[0].get("image", "")),
        "created": str(doc.get("createTime", "")),
    }


class TrafficPlanner:
    def __init__(self, cloud: GoogleCloud, reporter: Reporter) -> None:
        self._cloud = cloud
        self._reporter = reporter

    def read(self, service: str, *, project: str, region: str) -> tuple[TrafficResult, RunService]:
        """The service, its routed split and its revisions (reads only); DeployerError when it does not exist."""
        name = f"projects/{project}/locations/{region}/services/{service}"
        current = self._cloud.run.get_service(name)
        if current is None:
            raise DeployerError(
                f"Cloud Run service {service} does not exist in {project}/{region}",
                f"deploy it first: deployer deploy {service}",
            )
        result = TrafficResult(service=service, project=project, region=region, url=current.uri)
        result.before = split.shares(current.doc)
        result.after = result.before
        result.revisions = [revision_row(doc) for doc in self._cloud.run.list_revisions(name)]
        return result, current

    def change(self, service: str, change: TrafficChange, *, project: str, region: str) -> TrafficResult:
        """``deployer traffic``: a new split (``REV=PERCENT,...``), all to the latest, tags added or removed."""
        split_text, to_latest, tags, untags = change.split, change.to_latest, change.tags, change.untags
        if split_text is not None and to_latest:
            raise BadInput("--split and --to-latest ask for two different splits", "pass one of them")
        result, current = self.read(service, project=project, region=region)
        doc = current.doc
        names = [r["revision"] for r in result.revisions]
        wanted: list[Share] | None = None
        if split_text is not None:
            wanted = split.parse_split(split_text, doc, names)
        elif to_latest:
            wanted = split.to_latest(doc)
        for pair in tags:
            revision, equals, tag = pair.partition("=")
            if not equals or not tag:
                raise BadInput(f'--tag "{pair}": it is REVISION=TAG', "e.g. --tag api-00002-abc=canary")
            if revision != split.LATEST_WORD and revision not in names:
                raise BadInput(f'--tag "{pair}": {revision!r} is not a revision of {service}', f"known: {names[:8]}")
            _check_tag(tag, service)
            base = {**doc, "traffic": split.targets_of(wanted)} if wanted is not None else doc
            wanted = split.with_tag(base, revision, tag)
        for tag in untags:
            base = {**doc, "traffic": split.targets_of(wanted)} if wanted is not None else doc
            without = split.without_tag(base, tag)
            if without is None:
                self._reporter.info(f"Tag {tag} is not on {service}: nothing to remove")
                continue
            wanted = without
        if wanted is not None:
            self._plan_update(result, current, wanted)
        return result

    def rollback(self, service: str, *, project: str, region: str, to: str | None = None) -> TrafficResult:
        """100 % to ``to``, or to the previous revision that was serving (see ``_previous``)."""
        result, current = self.read(service, project=project, region=region)
        rows = result.revisions
        if to is not None:
            row = next((r for r in rows if r["revision"] == to), None)
            if row is None:
                raise BadInput(f"--to {to}: no such revision of {service}", f"known: {[r['revision'] for r in rows]}")
            if not row["ready"]:
                raise BadInput(f"--to {to}: revision {to} is not ready, so it cannot serve traffic")
            target = to
        else:
            target = _previous(result.before, rows, service)
        self._plan_update(result, current, split.to_revision(current.doc, target))
        return result

    def promote(
        self,
        service: str,
        *,
        project: str,
        region: str,
        steps: tuple[int, ...] = (100,),
        interval_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TrafficResult:
        """The latest revision to each percent of ``steps`` in turn, waiting ``interval_s`` between them; after
        each wait its Ready condition is read again, and a revision no longer ready rolls traffic back to where it
        was before the promote. Error rates are not read: neither Cloud Run's Admin API nor the emulator reports
        them (they live in Cloud Monitoring), so this check would be pretend."""
        if not steps or any(not 1 <= s <= 100 for s in steps) or list(steps) != sorted(steps) or steps[-1] != 100:
            raise BadInput(
                f"--steps {','.join(map(str, steps))}: percents from 1 to 100, increasing, ending at 100",
                "e.g. --steps 10,50,100",
            )
        result, current = self.read(service, project=project, region=region)
        latest = current.latest_ready_revision
        if not latest:
            raise DeployerError(f"{service} has no ready revision to promote")
        final = split.to_latest(current.doc)
        step = self._plan_update(result, current, final, summary=f"promote {latest} in steps {list(steps)}")
        if step is None:
            return result
        original = current.doc

        def apply() -> None:
            name = current.name
            for index, percent in enumerate(steps):
                live = self._cloud.run.get_service(name)
                assert live is not None
                shares = split.promoted(live.doc, percent)
                self._send(live.doc, shares, f"{latest} at {percent} %")
                if index == len(steps) - 1:
                    break
                sleep(interval_s)
                revision = next((r for r in self._cloud.run.list_revisions(name) if r["name"].endswith(latest)), {})
                if not ready(revision):
                    back = split.shares(original, routed=False)
                    self._send(self._cloud.run.get_service(name).doc, back, "rolling back")  # type: ignore[union-attr]
                    result.after = back
                    result.rolled_back = f"revision {latest} is no longer ready; traffic is back where it was"
                    raise DeployerError(
                        f"promote of {latest} stopped at {percent} %: {result.rolled_back}",
                        f"see its logs: deployer status {service}",
                    )

        step.apply = apply
        return result

    def _plan_update(
        self, result: TrafficResult, current: RunService, wanted: list[Share], *, summary: str = ""
    ) -> Step | None:
        result.after = [Share(s.revision or current.latest_ready_revision, s.percent, s.tag, s.latest) for s in wanted]
        asked = split.shares(current.doc, routed=False)
        if split.targets_of(wanted) == split.targets_of(asked):
            result.plan.add(Step(Action.NOOP, current.name, f"traffic is already {split.split_text(result.before)}"))
            return None
        body = {**current.doc, "traffic": split.targets_of(wanted)}
        line = f"{summary}: " if summary else "traffic: "
        step = Step(
            Action.UPDATE,
            current.name,
            f"{line}{split.split_text(result.before)} → {split.split_text(result.after)}",
            {"method": "PATCH", "url": f"/v2/{current.name}?updateMask=traffic", "body": {"traffic": body["traffic"]}},
            apply=lambda: self._send_and_note(result, current.doc, wanted),
            validate=lambda: self._cloud.run.update_service(
                body, update_mask=["traffic"], timeout_s=TRAFFIC_TIMEOUT_S, validate_only=True
            ),
        )
        return result.plan.add(step)

    def _send_and_note(self, result: TrafficResult, doc: dict[str, Any], wanted: list[Share]) -> None:
        """Apply ``wanted``; the result's split becomes the one routed (with the tags' URLs)."""
        service = self._send(doc, wanted, "traffic")
        result.after = split.shares(service.doc) or result.after

    def _send(self, doc: dict[str, Any], wanted: list[Share], what: str) -> RunService:
        body = {**doc, "traffic": split.targets_of(wanted)}
        with self._reporter.activity(f"Moving traffic of {doc.get('name', '').rsplit('/', 1)[-1]}: {what}"):
            return self._cloud.run.update_service(body, update_mask=["traffic"], timeout_s=TRAFFIC_TIMEOUT_S)


def _previous(before: list[Share], rows: list[dict[str, Any]], service: str) -> str:
    """During a canary (the newest serving revision beside others), the other revision serving most; otherwise the
    newest ready revision older than the one serving."""
    names = [r["revision"] for r in rows]
    serving = sorted({s.revision for s in before if s.percent and s.revision in names}, key=names.index)
    if len(serving) > 1:
        others = [s for s in before if s.percent and s.revision in serving[1:]]
        return max(others, key=lambda s: s.percent).revision
    start = names.index(serving[0]) + 1 if serving else 0
    older = [r["revision"] for r in rows[start:] if r["ready"]]
    if not older:
        raise DeployerError(
            f"{service} has no ready revision older than {serving[0] if serving else 'the latest'} to roll back to",
            "name one with --to REVISION (see `deployer traffic SERVICE`)",
        )
    return str(older[0])


def _check_tag(tag: str, service: str) -> None:
    from deployer.services.deploy_run import check_preview_tag

    try:
        check_preview_tag(tag, service)
    except BadInput as error:
        raise BadInput(error.message.replace("--preview", "--tag"), error.hint) from None
