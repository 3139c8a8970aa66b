"""``deployer deploy``."""

from __future__ import annotations

from pathlib import Path

import typer

from deployer.cli import common


@common.handle_errors
def deploy(
    service: str = typer.Argument(None, help="Which [services.NAME] to deploy (default: the only one)."),
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
    yes: bool = common.YesOption,
    as_json: bool = common.JsonOption,
    verbose: bool = common.VerboseOption,
) -> None:
    """Build if needed, then create or update the Cloud Run service and wait until its new revision is ready.

    Only what deployer.toml owns is changed. An unchanged service sends no mutating request. A revision that fails
    leaves traffic where it was.
    """
    from deployer.cli.output import ConsoleReporter, emit_json, out, render_plan
    from deployer.gcp import GoogleCloud
    from deployer.services.build import apply_plan, inputs_from_config
    from deployer.services.deploy_run import RunDeployer

    config = common.load(directory, config_file, project=project, region=region, repository=repository)
    name, service_config = config.service(service)
    inputs = inputs_from_config(
        config, name, service_config, max_context_mb, allow_large_context, tuple(allow_credential_file)
    )
    reporter = ConsoleReporter(verbose=verbose)
    cloud = GoogleCloud()
    console = cloud.target.console_url(f"run/detail/{inputs.region}/{name}", inputs.project)
    reporter.info(f"Deploying {name} to Cloud Run in {inputs.project}/{inputs.region}: {console}")
    deployer = RunDeployer(cloud, reporter)
    with deployer.planned(
        name,
        service_config,
        project=inputs.project,
        region=inputs.region,
        build_inputs=None if image else inputs,
        image=image,
    ) as result:
        result.dry_run = dry_run
        if diff and not dry_run and not as_json:
            render_plan(result.plan.to_json(), with_requests=False)
            if result.plan.changes and not yes and not common.confirm("Apply these changes?"):
                raise typer.Exit(1)
        if not dry_run:
            apply_plan(result.plan)
    if as_json:
        emit_json(result.to_json(with_requests=dry_run))
        return
    if dry_run:
        render_plan(result.plan.to_json(with_request=True), with_requests=True)
        return
    if not result.plan.changes:
        reporter.info(f"Service {name} is up to date: nothing changed")
    reporter.finished()
    out(f"Service {name}: {result.url}")
    out(f"  image:    {result.image}@{result.digest}")
    out(f"  revision: {result.revision}")
