"""``deployer traffic``, ``deployer rollback`` and ``deployer promote``: a Cloud Run service's split."""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import TYPE_CHECKING

import typer

from deployer.cli import common

if TYPE_CHECKING:
    from deployer.services.traffic import TrafficPlanner, TrafficResult

ServiceArgument = typer.Argument(..., help="The Cloud Run service.", metavar="SERVICE")


def _planner(opts: common.Shared) -> tuple[TrafficPlanner, str, str]:
    from deployer.gcp import GoogleCloud
    from deployer.services.traffic import TrafficPlanner

    config = opts.load()
    return TrafficPlanner(GoogleCloud(), opts.reporter()), config.require_project(), config.require_region()


def _render(result: TrafficResult) -> None:
    from deployer.cli.output import out
    from deployer.gcp.bodies.traffic import split_text

    out(f"Service {result.service}: {result.url}")
    if result.changed and not result.dry_run:
        out(f"  moved: {split_text(result.before)} → {split_text(result.after)}")
    created = {r["revision"]: r for r in result.revisions}
    for share in result.after:
        row = created.get(share.revision, {})
        name = f"{share.revision} (latest)" if share.latest else share.revision
        line = f"  {share.percent:>3} %  {name}"
        if share.tag:
            line += f"  tag {share.tag}" + (f": {share.uri}" if share.uri else "")
        if row:
            image = row["image"]
            line += f"  {image.rsplit('@', 1)[-1][:19] if '@' in image else image}  created {row['created'][:19]}"
        out(line)


def _run(opts: common.Shared, result: TrafficResult, ask: str | None) -> None:
    from deployer.cli import flow

    flow.run(nullcontext(result), opts.flags(), render=_render, ask=ask if result.changed else None)


@common.shared_options(repository=False)
def traffic(
    service: str = ServiceArgument,
    opts: common.Shared = common.DEFAULTS,
    split: str = typer.Option(
        None, "--split", metavar="REV=PCT,...", help="New split: revision names, `latest` or tags; sums to 100."
    ),
    to_latest: bool = typer.Option(False, "--to-latest", help="All traffic to the latest ready revision."),
    tag: list[str] = typer.Option([], "--tag", metavar="REV=NAME", help="Tag a revision (repeatable)."),
    untag: list[str] = typer.Option([], "--untag", metavar="NAME", help="Remove a tag, e.g. pr-123 (repeatable)."),
) -> None:
    """Show the service's split (revision, percent, tag, URL, image digest, created), or change it.

    A change shows the split before → after and asks (--yes answers). Only the service's traffic is updated.
    """
    from deployer.services.traffic import TrafficChange

    planner, project, region = _planner(opts)
    change = TrafficChange(split=split, to_latest=to_latest, tags=tuple(tag), untags=tuple(untag))
    result = planner.change(service, change, project=project, region=region)
    _run(opts, result, "Move the traffic?")


@common.shared_options(repository=False)
def rollback(
    service: str = ServiceArgument,
    opts: common.Shared = common.DEFAULTS,
    to: str = typer.Option(None, "--to", metavar="REV", help="The revision to return to (default: the previous one)."),
) -> None:
    """Send 100 % of traffic to the previous ready revision (or --to REV). Later deploys keep this split until
    `deployer traffic SERVICE --to-latest` or `deployer deploy --to-latest`."""
    planner, project, region = _planner(opts)
    _run(opts, planner.rollback(service, project=project, region=region, to=to), "Roll back?")


_DURATION = re.compile(r"^(\d+)([smh]?)$")


def _seconds(text: str) -> float:
    from deployer.errors import BadInput

    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise BadInput(f'--interval "{text}": a whole number of seconds, or with s, m or h (e.g. 30s, 5m)')
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


@common.shared_options(repository=False)
def promote(
    service: str = ServiceArgument,
    opts: common.Shared = common.DEFAULTS,
    steps: str = typer.Option("100", "--steps", metavar="PCT,...", help="Percents in turn, ending at 100."),
    interval: str = typer.Option("5m", "--interval", help="Wait between steps (e.g. 30s, 5m)."),
) -> None:
    """Move the latest revision (a canary) to 100 %, step by step. After each wait its Ready condition is read
    again; a revision no longer ready rolls traffic back to where it was (error rates are not read: the Cloud Run
    API does not report them)."""
    from deployer.errors import BadInput

    parts = [p.strip() for p in steps.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise BadInput(f'--steps "{steps}": whole percents separated by commas', "e.g. --steps 10,50,100")
    planner, project, region = _planner(opts)
    result = planner.promote(
        service,
        project=project,
        region=region,
        steps=tuple(int(p) for p in parts),
        interval_s=_seconds(interval),
    )
    _run(opts, result, "Promote?")
