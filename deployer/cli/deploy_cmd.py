"""``deployer deploy``."""

from __future__ import annotations

from pathlib import Path

import typer

from deployer.cli import common


def deploy(
    service: str = typer.Argument(
        None, help="Which [services.NAME] or [vms.NAME] to deploy (default: the only one).", metavar="NAME"
    ),
    project: str = common.ProjectOption,
    region: str = common.RegionOption,
    repository: str = common.RepositoryOption,
    directory: Path = common.DirectoryOption,
    config_file: Path = common.ConfigOption,
    image: str = typer.Option(
        None, "--image", help="Deploy this image (IMAGE@sha256:… or IMAGE:TAG) instead of building."
    ),
    max_context_mb: int = typer.Option(None, "--max-context-mb", help="Refuse larger contexts (default 500)."),
    allow_large_context: bool = typer.Option(False, "--allow-large-context", help="Upload even above the limit."),
    allow_credential_file: list[str] = typer.Option(
        [], "--allow-credential-file", help="Upload this file although it looks like a credential (repeatable)."
    ),
    dry_run: bool = common.DryRunOption,
    diff: bool = typer.Option(False, "--diff", help="Show what would change and ask before applying."),
    preview: str = typer.Option(
        None,
        "--preview",
        metavar="TAG",
        help="Deploy a preview revision with this traffic tag (e.g. pr-123) that receives no traffic; prints its URL.",
    ),
    yes: bool = common.YesOption,
    as_json: bool = common.JsonOption,
    verbose: bool = common.VerboseOption,
) -> None:
    """Build if needed, then create or update the Cloud Run service and wait until its new revision is ready.

    Only what deployer.toml owns is changed. An unchanged service sends no mutating request. A revision that fails
    leaves traffic where it was. For a [vms.NAME] target: check GPU quota first, then create the Container-Optimized
    OS VM, or update it to the new image and restart its container (recreate it only when its shape changed).
    """
    from deployer.cli.output import ConsoleReporter, emit_json, out, render_plan
    from deployer.errors import BadInput
    from deployer.gcp import GoogleCloud
    from deployer.services.build import inputs_from_config
    from deployer.services.deploy_run import RunDeployer, check_preview_tag
    from deployer.services.predeploy import ready_to_deploy

    config = common.load(directory, config_file, project=project, region=region, repository=repository)
    name, kind, _ = config.target(service)
    if preview and kind == "vm":
        raise BadInput(f"--preview is for Cloud Run services; {name} is a [vms] target", "deploy it without --preview")
    if kind == "vm":
        from deployer.cli.vm_deploy import deploy_vm

        deploy_vm(
            config,
            name,
            config.vms[name],
            image=image,
            max_context_mb=max_context_mb,
            allow_large_context=allow_large_context,
            allow_credential_files=tuple(allow_credential_file),
            dry_run=dry_run,
            diff=diff,
            yes=yes,
            as_json=as_json,
            verbose=verbose,
        )
        return
    service_config = config.services[name]
    if preview is not None:
        check_preview_tag(preview, name)  # bad input is refused before anything is read or sent
    inputs = inputs_from_config(
        config, name, service_config, max_context_mb, allow_large_context, tuple(allow_credential_file)
    )
    reporter = ConsoleReporter(verbose=verbose)
    cloud = GoogleCloud()
    console = cloud.target.console_url(f"run/detail/{inputs.region}/{name}", inputs.project)
    reporter.info(f"Deploying {name} to Cloud Run in {inputs.project}/{inputs.region}: {console}")
    with ready_to_deploy(cloud, config, name, inputs, image=image, lint_target="run", reporter=reporter) as ready:
        if ready.runtime_account and not service_config.service_account:
            service_config = service_config.model_copy(update={"service_account": ready.runtime_account})
        deployer = RunDeployer(cloud, reporter)
        with deployer.planned(
            name,
            service_config,
            project=ready.inputs.project,
            region=ready.inputs.region,
            build_inputs=None if image else ready.inputs,
            image=image,
            preview=preview,
            source=ready.source,
        ) as result:
            result.dry_run = dry_run
            common.review_and_apply(result.plan, dry_run=dry_run, diff=diff, yes=yes, as_json=as_json)
    if as_json:
        emit_json(result.to_json(with_requests=dry_run))
        return
    if dry_run:
        render_plan(result.plan.to_json(with_request=True), with_requests=True)
        return
    if not result.plan.changes:
        reporter.info(f"Service {name} is up to date: nothing changed")
    reporter.finished()
    if preview is not None:
        out(f"Preview {preview} of {name} (no traffic): {result.url}")
    else:
        out(f"Service {name}: {result.url}")
    out(f"  image:    {result.image}@{result.digest}")
    out(f"  revision: {result.revision}")
