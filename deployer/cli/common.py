"""What every command shares: the common options and config loading."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig


def _remember(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> bool:
    # The root error handler (cli/app.py) reads these once the command has failed: it must know how to report.
    ctx.meta[param.name or ""] = value
    return value


ProjectOption = typer.Option(None, "--project", "-p", help="Google Cloud project id [env DEPLOYER_PROJECT].")
RegionOption = typer.Option(None, "--region", "-r", help="Region, e.g. europe-west4 [env DEPLOYER_REGION].")
RepositoryOption = typer.Option(
    None, "--repository", help="Artifact Registry repository id (default: deployer) [env DEPLOYER_REPOSITORY]."
)
DirectoryOption = typer.Option(
    Path("."), "--directory", "-C", help="The project directory (where deployer.toml is).", show_default=False
)
ConfigOption = typer.Option(None, "--config", help="Config file to use instead of deployer.toml [env DEPLOYER_CONFIG].")
JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout (for CI).", callback=_remember)
DryRunOption = typer.Option(
    False,
    "--dry-run",
    help="Print the plan (each step, and the request it would send) and change nothing; Cloud Run requests are "
    "checked by the server (validate_only).",
)
DiffOption = typer.Option(
    False, "--diff", help="Show what would change and ask before applying (a VM recreate always asks)."
)
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
VerboseOption = typer.Option(False, "--verbose", "-v", help="Show tracebacks of unexpected errors.", callback=_remember)


def load(
    directory: Path,
    config_file: Path | None,
    *,
    project: str | None = None,
    region: str | None = None,
    repository: str | None = None,
) -> ResolvedConfig:
    from deployer.config import load_config

    return load_config(
        directory,
        config_file=config_file,
        flags={"project": project, "region": region, "repository": repository},
    )
