"""``deployer build``."""

from __future__ import annotations

import typer

from deployer.cli import common


@common.shared_options()
def build(
    service: str = typer.Argument(None, help="Which [services.NAME] to build (default: the only one)."),
    opts: common.Shared = common.DEFAULTS,
    max_context_mb: int = common.MaxContextOption,
    allow_large_context: bool = common.AllowLargeContextOption,
    allow_credential_file: list[str] = common.AllowCredentialFileOption,
) -> None:
    """Upload the build context, build the Dockerfile on Cloud Build, push to Artifact Registry.

    Prints image@digest. When the repository already has an image for the same source, no build runs.
    """
    from deployer.cli import flow
    from deployer.cli.output import out
    from deployer.gcp import GoogleCloud
    from deployer.services.build import BuildRun, inputs_from_config, planned_build

    config = opts.load()
    name, service_config = config.service(service)
    inputs = inputs_from_config(
        config, name, service_config, max_context_mb, allow_large_context, tuple(allow_credential_file)
    )
    reporter = opts.reporter()
    cloud = GoogleCloud()
    console = cloud.target.console_url(f"cloud-build/builds;region={inputs.region}", inputs.project)
    reporter.info(f"Building {name} in {inputs.project}/{inputs.region}: {console}")

    def render(run: BuildRun) -> None:
        assert run.build is not None
        if run.build.reused:
            reporter.info(f"An image for this source already exists ({run.build.image}:{run.build.tag}): build skipped")
        reporter.finished()
        out(run.build.reference)

    flow.run(
        planned_build(cloud, reporter, inputs),
        opts.flags(),
        render=render,
    )
