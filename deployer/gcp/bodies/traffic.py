"""Cloud Run v2 traffic: the split a service serves, and the ``traffic`` lists that change it.

Facts (run_v2 ``traffic_target.proto``): a ``TrafficTarget`` has ``type`` (``TrafficTargetAllocationType``: LATEST
follows the latest ready revision, REVISION names one), ``revision``, ``percent`` ("defaults to zero") and ``tag``
("a string to be part of the URI to exclusively reference this target"). ``Service.traffic_statuses`` (a
``TrafficTargetStatus`` each: the same fields and ``uri``) is the split as routed. The percents of ``traffic`` sum
to 100; "if traffic is empty or not provided, defaults to 100% traffic to the latest Ready Revision"
(``service.proto``). A split pinned to revisions stays for every later deploy
(https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration): the new revision then gets 0 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.errors import BadInput

LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
BY_REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
LATEST_WORD = "latest"  # how --split names the latest ready revision, as gcloud's --to-revisions does (LATEST)


@dataclass(frozen=True)
class Share:
    """One target of a split: a revision (or the latest ready one, ``latest``), its percent, tag and tag URL."""

    revision: str  # the short revision name ("" when latest and no revision is ready)
    percent: int
    tag: str = ""
    latest: bool = False
    uri: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "percent": self.percent,
            "tag": self.tag or None,
            "latest": self.latest,
            "url": self.uri or None,
        }


def _short(name: object) -> str:
    return str(name or "").rsplit("/", 1)[-1]


def shares(service: dict[str, Any], *, routed: bool = True) -> list[Share]:
    """The split: as routed (``trafficStatuses``) or as asked (``traffic``); LATEST resolved to the latest ready
    revision."""
    latest_ready = _short(service.get("latestReadyRevision"))
    targets = service.get("trafficStatuses" if routed else "traffic") or []
    if not targets and not routed:
        targets = [{"type": LATEST, "percent": 100}]
    found = []
    for target in targets:
        latest = target.get("type") == LATEST
        found.append(
            Share(
                revision=latest_ready if latest else _short(target.get("revision")),
                percent=int(target.get("percent") or 0),
                tag=str(target.get("tag") or ""),
                latest=latest,
                uri=str(target.get("uri") or ""),
            )
        )
    return found


def follows_latest(service: dict[str, Any]) -> int:
    """The percent of the asked traffic that follows the latest revision (what a new revision gets on deploy)."""
    return sum(s.percent for s in shares(service, routed=False) if s.latest)


def targets_of(split: list[Share]) -> list[dict[str, Any]]:
    """The ``traffic`` list (REST JSON) that asks for ``split``."""
    targets = []
    for share in split:
        target: dict[str, Any] = {"type": LATEST} if share.latest else {"type": BY_REVISION, "revision": share.revision}
        target["percent"] = share.percent
        if share.tag:
            target["tag"] = share.tag
        targets.append(target)
    return targets


def split_text(split: list[Share]) -> str:
    """``api-00002-abc 90 %, latest (api-00003-xyz) 10 %, api-00004-pqr 0 % tag pr-1``, for before → after lines."""
    parts = []
    for share in split:
        name = f"latest ({share.revision or 'none ready'})" if share.latest else share.revision
        parts.append(f"{name} {share.percent} %" + (f" tag {share.tag}" if share.tag else ""))
    return ", ".join(parts) or "(no traffic)"


def _tags_only(split: list[Share]) -> list[Share]:
    """The tagged targets of ``split`` at 0 %: tags keep their URLs when the percents change."""
    return [Share(s.revision, 0, s.tag, s.latest) for s in split if s.tag]


def _merged(split: list[Share]) -> list[Share]:
    """One target per revision (or latest), carrying its tag: a second tag on the same revision is its own target."""
    merged: list[Share] = []
    for share in split:
        same = next(
            (
                m
                for m in merged
                if (m.latest, m.revision) == (share.latest, share.revision) and not (m.tag and share.tag)
            ),
            None,
        )
        if same is None:
            merged.append(share)
            continue
        merged[merged.index(same)] = Share(
            same.revision, same.percent + share.percent, same.tag or share.tag, same.latest
        )
    return merged


def check_sum(split: list[Share], flag: str) -> None:
    total = sum(s.percent for s in split)
    if total != 100:
        raise BadInput(
            f"{flag}: the percentages sum to {total}; Cloud Run needs them to sum to exactly 100",
            "e.g. --split api-00001-abc=90,latest=10",
        )


def parse_split(text: str, service: dict[str, Any], revisions: list[str]) -> list[Share]:
    """``REV=90,REV=10``: each REV a revision name, ``latest`` or a tag; percents whole numbers summing to 100.

    Tags stay on their revisions at 0 %. BadInput (nothing sent) names the part that is wrong.
    """
    current = shares(service, routed=False)
    by_tag = {s.tag: s for s in current if s.tag}
    chosen: list[Share] = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals or not value.strip().isdigit() or not 0 <= int(value) <= 100:
            raise BadInput(
                f'--split "{part}": each part is REVISION=PERCENT, a whole number from 0 to 100',
                "e.g. --split api-00001-abc=90,latest=10",
            )
        percent = int(value)
        if name == LATEST_WORD:
            chosen.append(Share(_short(service.get("latestReadyRevision")), percent, latest=True))
        elif name in by_tag:
            tagged = by_tag[name]
            chosen.append(Share(tagged.revision, percent, latest=tagged.latest))
        elif name in revisions:
            chosen.append(Share(name, percent))
        else:
            known = ", ".join([LATEST_WORD, *revisions[:8], *by_tag])
            raise BadInput(
                f'--split "{part}": {name!r} is not a revision of this service, "latest" or one of its tags',
                f"known: {known} (see `deployer traffic SERVICE`)",
            )
    check_sum(chosen, "--split")
    return _merged([*[s for s in chosen if s.percent], *_tags_only(current)])


def to_latest(service: dict[str, Any]) -> list[Share]:
    """All traffic to the latest ready revision, as a plain deploy does; tags stay."""
    latest = _short(service.get("latestReadyRevision"))
    return _merged([Share(latest, 100, latest=True), *_tags_only(shares(service, routed=False))])


def to_revision(service: dict[str, Any], revision: str) -> list[Share]:
    """All traffic to ``revision`` (a rollback); tags stay."""
    return _merged([Share(revision, 100), *_tags_only(shares(service, routed=False))])


def canary(service: dict[str, Any], percent: int) -> list[Share]:
    """``percent`` to the latest revision (the one the deploy makes); the rest where it is now, scaled down.

    What served follows as pinned revisions (the latest ready one, named), so the canary's share moves only with
    it. Scaling keeps whole percents that sum to 100 (largest remainders first).
    """
    serving = [s for s in shares(service, routed=True) if s.percent] or [
        Share(_short(service.get("latestReadyRevision")), 100)
    ]
    rest, total = 100 - percent, sum(s.percent for s in serving)
    exact = [(s, s.percent * rest / total) for s in serving]
    scaled = [(s, int(value)) for s, value in exact]
    left = rest - sum(p for _, p in scaled)
    order = sorted(range(len(exact)), key=lambda i: exact[i][1] - scaled[i][1], reverse=True)
    for index in order[:left]:
        scaled[index] = (scaled[index][0], scaled[index][1] + 1)
    kept = [Share(s.revision, p) for s, p in scaled if p]
    return _merged([Share("", percent, latest=True), *kept, *_tags_only(shares(service, routed=False))])


def promoted(service: dict[str, Any], percent: int) -> list[Share]:
    """The latest revision at ``percent``, the revisions that served the rest scaled to ``100 - percent``."""
    asked = shares(service, routed=False)
    others = [s for s in asked if not s.latest and s.percent]
    if percent >= 100 or not others:
        return to_latest(service)
    return canary({**service, "trafficStatuses": targets_of(others)}, percent)


def with_tag(service: dict[str, Any], revision: str, tag: str) -> list[Share]:
    """The asked traffic with ``tag`` on ``revision`` (or ``latest``: the target that follows the latest revision),
    moved there if another target had it."""
    current = shares(service, routed=False)
    kept = [s if s.tag != tag else Share(s.revision, s.percent, "", s.latest) for s in current]
    kept = [s for s in kept if s.percent or s.tag]
    if revision == LATEST_WORD:
        return _merged([*kept, Share(_short(service.get("latestReadyRevision")), 0, tag, latest=True)])
    return _merged([*kept, Share(revision, 0, tag)])


def without_tag(service: dict[str, Any], tag: str) -> list[Share] | None:
    """The asked traffic without ``tag`` (a 0 % target goes, one with traffic keeps it); None when no target has it."""
    current = shares(service, routed=False)
    if not any(s.tag == tag for s in current):
        return None
    kept = [s if s.tag != tag else Share(s.revision, s.percent, "", s.latest) for s in current]
    return [s for s in kept if s.percent or s.tag]
