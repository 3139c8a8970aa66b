"""``deployer deploy``."""

from __future__ import annotations

from typing import Any

import typer

from deployer.cli import common

# The traffic a deploy asks for, and --diff's verdict as the exit code (CI skips a no-op deploy).
CanaryOption = typer.Option(
    None, "--canary", metavar="PCT", help="Give the new revision PCT % of traffic (1-99); the rest stays put."
)
ToLatestOption = typer.Option(False, "--to-latest", help="Send all traffic to the new revision, also after a split.")
ExitCodeOption = typer.Option(
    False, "--exit-code", help="With --diff: apply nothing; exit 0 if nothing would change, 1 if it would, 2 on error."
)


@common.shared_options()
def deploy(
    service: str = typer.Argument(
        None, help="Which [services.NAME] or [vms.NAME] to deploy (default: the only one).", metavar="NAME"
    ),
    opts: common.Shared = common.DEFAULTS,
    image: str = typer.Option(
        None, "--image", help="Deploy this image (IMAGE@sha256:… or IMAGE:TAG) instead of building."
    ),
    max_context_mb: int = common.MaxContextOption,
    allow_large_context: bool = common.AllowLargeContextOption,
    allow_credential_file: list[str] = common.AllowCredentialFileOption,
    preview: str = typer.Option(
        None,
        "--preview",
        metavar="TAG",
        help="Deploy a preview revision with this traffic tag (e.g. pr-123) that receives no traffic; prints its URL.",
    ),
    canary: int = CanaryOption,
    to_latest: bool = ToLatestOption,
    exit_code: bool = ExitCodeOption,
    check: bool = typer.Option(
        False,
        "--check",
        help="Run the readiness checks (as `deployer doctor` does for this target) even when nothing would change.",
    ),
) -> None:
    """Build if needed, then create or update the Cloud Run service and wait until its new revision is ready.

    Only what deployer.toml owns is changed. An unchanged service sends no mutating request. A revision that fails
    leaves traffic where it was. For a [vms.NAME] target: check GPU quota first, then create the Container-Optimized
    OS VM, or update it to the new image and restart its container (recreate it only when its shape changed).
    """
    from dataclasses import replace

    from deployer.cli import flow
    from deployer.cli.output import out
    from deployer.gcp import GoogleCloud
    from deployer.services.targets import DeployRequest, planned_deploy, target_for

    config = opts.load()
    target = target_for(config, service)
    request = DeployRequest(
        image=image,
        max_context_mb=max_context_mb,
        allow_large_context=allow_large_context,
        allow_credential_files=tuple(allow_credential_file),
        preview=preview,
        check=check,
        canary=canary,
        to_latest=to_latest,
    )
    reporter = opts.reporter()

    def render(result: Any) -> None:
        if not result.changed:
            reporter.info(f"{target.label} {target.name} is up to date: nothing changed")
        reporter.finished()
        for line in target.summary(result):
            out(line)

    flags = opts.flags()
    if exit_code:
        if not opts.diff:
            from deployer.errors import BadInput

            raise BadInput("--exit-code goes with --diff", "run: deployer deploy --diff --exit-code")
        flags = replace(flags, exit_code=True)
    flow.run(
        planned_deploy(GoogleCloud(), reporter, target, request),
        flags,
        render=render,
    )
