"""``deployer destroy``: delete what deploy made for a target."""

from __future__ import annotations

import typer

from deployer.cli import common


@common.shared_options(repository=False)
def destroy(
    name: str = typer.Argument(
        ...,
        help="Which [services.NAME], [jobs.NAME] or [vms.NAME] to delete (always named: nothing goes by default).",
        metavar="NAME",
    ),
    opts: common.Shared = common.DEFAULTS,
    images: bool = typer.Option(
        False, "--images", help="Cloud Run: also delete the image versions it runs from Artifact Registry."
    ),
) -> None:
    """Delete a Cloud Run service or job deployer made (its revisions or executions and IAM policy go with it), or a VM
    deployer made
    (with its boot disk) and the firewall rule it opened for its ports.

    Shows the plan and asks first (--yes skips the question). What deployer did not make is left alone. Images stay
    in Artifact Registry (its cleanup policy ages them out); the output names them.
    """
    from contextlib import nullcontext

    from deployer.cli import flow
    from deployer.cli.output import out
    from deployer.gcp import GoogleCloud
    from deployer.services.vm_destroy import VmDestroyer, VmDestroyResult

    config = opts.load()
    target, kind, _ = config.target(name)
    project_id, region_id = config.require_project(), config.require_region()
    reporter = opts.reporter()
    if kind in ("service", "job"):
        _destroy_cloud_run(opts, target, kind, project_id, region_id, images=images)
        return
    planned = VmDestroyer(GoogleCloud(), reporter).plan(
        target, config.vms[target], project=project_id, region=region_id
    )

    def render(result: VmDestroyResult) -> None:
        if not result.changed:
            out(f"VM {target}: nothing to delete in {project_id}/{region_id}")
            return
        reporter.finished()
        out(f"VM {target}: deleted" + (f" from {result.zone}" if result.zone else ""))

    flow.run(
        nullcontext(planned),
        opts.flags(),
        render=render,
        ask=f"Delete VM {target} and its firewall rule?",
    )


def _destroy_cloud_run(
    opts: common.Shared, name: str, kind_name: str, project: str, region: str, *, images: bool
) -> None:
    """A service or a job: plan, ask, delete; say which images stay."""
    from contextlib import nullcontext

    from deployer.cli import flow
    from deployer.cli.output import out
    from deployer.gcp import GoogleCloud
    from deployer.services.run_destroy import RunDestroyer, RunDestroyResult, job_kind, service_kind

    reporter = opts.reporter()
    cloud = GoogleCloud()
    kind = job_kind(cloud) if kind_name == "job" else service_kind(cloud)
    planned = RunDestroyer(cloud, reporter, kind).plan(name, project=project, region=region, images=images)

    def render(result: RunDestroyResult) -> None:
        if not result.changed:
            out(f"Cloud Run {result.kind} {name}: nothing to delete in {project}/{region}")
            return
        reporter.finished()
        out(f"Cloud Run {result.kind} {name}: deleted from {project}/{region}")
        for image in result.images_deleted:
            out(f"  deleted from Artifact Registry: {image}")
        for image in result.images_left:
            out(f"  left in Artifact Registry: {image} (its cleanup policy ages it out; --images deletes it)")

    flow.run(nullcontext(planned), opts.flags(), render=render, ask=f"Delete Cloud Run {kind.label} {name}?")
