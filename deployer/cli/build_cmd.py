"""``deployer build``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from deployer.cli import common


def build(
    service: str = typer.Argument(None, help="Which [services.NAME] to build (default: the only one)."),
    project: str = common.ProjectOption,
    region: str = common.RegionOption,
    repository: str = common.RepositoryOption,
    directory: Path = common.DirectoryOption,
    config_file: Path = common.ConfigOption,
    max_context_mb: int = typer.Option(None, "--max-context-mb", help="Refuse larger contexts (default 500)."),
    allow_large_context: bool = typer.Option(False, "--allow-large-context", help="Upload even above the limit."),
    allow_credential_file: list[str] = typer.Option(
        [], "--allow-credential-file", help="Upload this file although it looks like a credential (repeatable)."
    ),
    dry_run: bool = common.DryRunOption,
    as_json: bool = common.JsonOption,
    verbose: bool = common.VerboseOption,
) -> None:
    """Upload the build context, build the Dockerfile on Cloud Build, push to Artifact Registry.

    Prints image@digest. When the repository already has an image for the same source, no build runs.
    """
    from deployer.cli.output import ConsoleReporter, emit_json, out, render_plan
    from deployer.gcp import GoogleCloud
    from deployer.plan import Plan
    from deployer.services.bootstrap import bootstrap_accounts
    from deployer.services.build import BuildPlanner, apply_plan, inputs_from_config, prepare_source

    config = common.load(directory, config_file, project=project, region=region, repository=repository)
    name, service_config = config.service(service)
    inputs = inputs_from_config(
        config, name, service_config, max_context_mb, allow_large_context, tuple(allow_credential_file)
    )
    reporter = ConsoleReporter(verbose=verbose)
    cloud = GoogleCloud()
    console = cloud.target.console_url(f"cloud-build/builds;region={inputs.region}", inputs.project)
    reporter.info(f"Building {name} in {inputs.project}/{inputs.region}: {console}")
    build_account, _ = bootstrap_accounts(cloud, inputs.project)
    if build_account:
        inputs = replace(inputs, service_account=build_account)
    source = prepare_source(inputs, reporter)
    try:
        plan = Plan()
        result = BuildPlanner(cloud, reporter).plan(inputs, source, plan)
        if not dry_run:
            apply_plan(plan)
    finally:
        source.cleanup()
    if as_json:
        emit_json(
            {"service": name, "dry_run": dry_run, **result.to_json(), "steps": plan.to_json(with_request=dry_run)}
        )
        return
    if dry_run:
        render_plan(plan.to_json(with_request=True), with_requests=True)
        return
    if result.reused:
        reporter.info(f"An image for this source already exists ({result.image}:{result.tag}): build skipped")
    reporter.finished()
    out(result.reference)
