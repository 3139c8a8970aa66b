"""What every command shares: the common options, config loading, and the one error handler."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from deployer.cli.output import report_error, report_interrupt
from deployer.errors import BadInput, DeployerError

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig
    from deployer.plan import Plan

F = TypeVar("F", bound=Callable[..., Any])

ProjectOption = typer.Option(None, "--project", "-p", help="Google Cloud project id [env DEPLOYER_PROJECT].")
RegionOption = typer.Option(None, "--region", "-r", help="Region, e.g. europe-west4 [env DEPLOYER_REGION].")
RepositoryOption = typer.Option(
    None, "--repository", help="Artifact Registry repository id (default: deployer) [env DEPLOYER_REPOSITORY]."
)
DirectoryOption = typer.Option(
    Path("."), "--directory", "-C", help="The project directory (where deployer.toml is).", show_default=False
)
ConfigOption = typer.Option(None, "--config", help="Config file to use instead of deployer.toml [env DEPLOYER_CONFIG].")
JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout (for CI).")
DryRunOption = typer.Option(
    False, "--dry-run", help="Print the plan (each step, and the request it would send) and change nothing."
)
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
VerboseOption = typer.Option(False, "--verbose", "-v", help="Show tracebacks of unexpected errors.")


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


def handle_errors(func: F) -> F:
    """Turn DeployerError and Ctrl-C into a message and a documented exit code; tracebacks only with --verbose."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json", False))
        verbose = bool(kwargs.get("verbose", False)) or os.environ.get("DEPLOYER_VERBOSE") == "1"
        try:
            return func(*args, **kwargs)
        except DeployerError as error:
            if verbose:
                import traceback

                traceback.print_exc()
            raise typer.Exit(report_error(error, as_json=as_json)) from None
        except KeyboardInterrupt:
            raise typer.Exit(report_interrupt()) from None
        except typer.Exit:
            raise
        except Exception as exc:
            if verbose:
                raise
            print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
            print("  (run again with --verbose for the traceback, and report it)", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def review_and_apply(plan: Plan, *, dry_run: bool, diff: bool, yes: bool, as_json: bool) -> None:
    """``--diff`` shows the changes and asks (unless ``--yes``); ``--dry-run`` stops there; else apply the plan."""
    from deployer.cli.output import render_plan
    from deployer.services.build import apply_plan

    if diff and not dry_run and not as_json:
        render_plan(plan.to_json(), with_requests=False)
        if plan.changes and not yes and not confirm("Apply these changes?"):
            raise typer.Exit(1)
    if not dry_run:
        apply_plan(plan)


def confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise BadInput(f"{question} cannot ask: standard input is not a terminal", "pass --yes to apply without asking")
    return typer.confirm(question, default=False, err=True)
