"""``deployer emulator start``: the local Google Cloud control plane, in the foreground."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

emulator_app = typer.Typer(help="The local Google Cloud emulator.", no_args_is_help=True, rich_markup_mode=None)


@emulator_app.command("start")
def start(
    port: int = typer.Option(0, "--port", help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    state_dir: Path = typer.Option(None, "--state-dir", help="Keep state here across restarts (default: memory)."),
    world: str = typer.Option(
        "open", "--world", help="open: every project exists and the caller owns it. strict: nothing exists."
    ),
    scenario: Path = typer.Option(
        None,
        "--scenario",
        help="Seed a strict world from this JSON or TOML file: organizations, billing accounts, projects, roles "
        "(see docs/emulator.md). Implies --world strict.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every request."),
) -> None:
    """Serve Google Cloud's APIs (Storage, Build, Artifact Registry, Run, Compute, Resource Manager, Billing,
    Service Usage, IAM) on localhost until Ctrl-C.

    Point deployer (and the Google client libraries it uses) at it with DEPLOYER_EMULATOR_URL. With podman or
    docker installed, builds really build and services really run; without, it says so. The strict world
    enforces each caller's roles and the enabled APIs; a scenario file seeds it.
    """
    if world not in ("open", "strict"):
        print(f'error: --world "{world}" is not allowed: use "open" or "strict"', file=sys.stderr)
        raise typer.Exit(2)
    # The emulator runs as its own program: the tool's layers reach it over HTTP only.
    argv = [sys.executable, "-m", "deployer.emulator", "--host", host, "--port", str(port), "--world", world]
    if state_dir is not None:
        argv += ["--state-dir", str(state_dir)]
    if scenario is not None:
        if not scenario.is_file():
            print(f"error: --scenario {scenario}: no such file", file=sys.stderr)
            raise typer.Exit(2)
        argv += ["--scenario", str(scenario)]
    if verbose:
        argv.append("--verbose")
    os.execv(sys.executable, argv)
