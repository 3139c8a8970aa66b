"""``deployer destroy``: delete what deploy made for a target."""

from __future__ import annotations

import typer

from deployer.cli import common


@common.shared_options(repository=False)
def destroy(
    name: str = typer.Argument(
        ..., help="Which [vms.NAME] to delete (always named: nothing is destroyed by default).", metavar="NAME"
    ),
    opts: common.Shared = common.DEFAULTS,
) -> None:
    """Delete a VM deployer made (with its boot disk) and the firewall rule it opened for its ports.

    Shows the plan and asks first (--yes skips the question). A VM or rule deployer did not make is left alone.
    """
    from contextlib import nullcontext

    from deployer.cli import flow
    from deployer.cli.output import out
    from deployer.errors import BadInput
    from deployer.gcp import GoogleCloud
    from deployer.services.vm_destroy import VmDestroyer, VmDestroyResult

    config = opts.load()
    target, kind, _ = config.target(name)
    if kind == "job":
        raise BadInput(
            f"destroy for Cloud Run jobs is not supported yet ({target} is a [jobs] table)",
            f"gcloud run jobs delete {target} --region REGION",
        )
    if kind == "service":
        raise BadInput(
            f"destroy for Cloud Run services is not supported yet ({target} is a [services] table)",
            f"delete it in the Cloud Console, or: gcloud run services delete {target} --region REGION",
        )
    project_id, region_id = config.require_project(), config.require_region()
    reporter = opts.reporter()
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
