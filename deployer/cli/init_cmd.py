"""``deployer init``."""

from __future__ import annotations

from pathlib import Path

import typer

from deployer.cli import common


def init(
    template: str = typer.Option(
        "python-api", "--template", "-t", help="Which template (see --list): python-api, gpu-pytorch, batch-job."
    ),
    service: str = typer.Option(
        None, "--service", "-s", help="Name of the service or VM in deployer.toml (default: from the directory name)."
    ),
    github: bool = typer.Option(
        False, "--github", help="Also write .github/workflows/deploy.yml: keyless deploys from GitHub Actions."
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite files that exist (never the project's requirements.txt or pyproject.toml)."
    ),
    list_only: bool = typer.Option(False, "--list", help="List the templates and exit."),
    project: str = typer.Option(None, "--project", "-p", help="Write this project id into deployer.toml."),
    region: str = typer.Option(None, "--region", "-r", help="Write this region into deployer.toml."),
    directory: Path = common.DirectoryOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be written and write nothing."),
    as_json: bool = common.JsonOption,
    verbose: bool = common.VerboseOption,
) -> None:
    """Scaffold a Dockerfile, the app, requirements.txt, .dockerignore and deployer.toml from a template.

    Files that exist are kept (and listed as skipped) unless --force; a project's own requirements.txt or
    pyproject.toml is always kept and the Dockerfile installs from it.
    """
    from deployer.cli.output import emit_json, out
    from deployer.services.init import init_project, list_templates

    if list_only:
        templates = list_templates()
        if as_json:
            emit_json(
                {"templates": [{"name": t.name, "target": t.target, "description": t.description} for t in templates]}
            )
            return
        for item in templates:
            out(f"{item.name:<12} [{item.target}] {item.description}")
        return
    result = init_project(
        directory,
        template_name=template,
        name=service,
        project=project,
        region=region,
        github=github,
        force=force,
        dry_run=dry_run,
    )
    if as_json:
        emit_json(result.to_json())
        return
    verb = {"written": "would write", "overwritten": "would overwrite"} if dry_run else {}
    for outcome in result.files:
        action = verb.get(outcome.action, outcome.action)
        out(f"{action:<15} {outcome.path}" + (f": {outcome.reason}" if outcome.reason else ""))
    for note in result.notes:
        out(f"note: {note}")
    kind = "service" if result.target == "services" else "VM"
    out(f"Template {result.template}, {kind} {result.name}. Next: `deployer lint`, then `deployer deploy`.")
    if github:
        out(
            "The workflow reads the repository variables GCP_WORKLOAD_IDENTITY_PROVIDER, GCP_SERVICE_ACCOUNT, "
            "GCP_PROJECT and GCP_REGION: `deployer bootstrap` prints the `gh variable set` commands."
        )
