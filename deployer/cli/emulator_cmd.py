"""``deployer emulator start``: the local Google Cloud control plane, in the foreground.

The emulator defines its own flags (``python -m deployer_emulator --help``); this command hands everything after
``start`` to it unchanged, so the flags are defined in one place.
"""

from __future__ import annotations

import os

import typer

from deployer.cli import common

emulator_app = typer.Typer(
    cls=common.QuickHelpGroup, help="The local Google Cloud emulator.", no_args_is_help=True, rich_markup_mode=None
)


@emulator_app.command(
    "start",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def start(ctx: typer.Context) -> None:
    """Serve Google Cloud's APIs (Storage, Build, Artifact Registry, Run, Compute, Resource Manager, Billing,
    Service Usage, IAM) on localhost until Ctrl-C. Options: deployer emulator start --help.

    Point deployer (and the Google client libraries it uses) at it with DEPLOYER_EMULATOR_URL. With podman or
    docker installed, builds really build and services really run; without, it says so.
    """
    from deployer.services.local_emulator import emulator_argv

    argv = emulator_argv(list(ctx.args))
    os.execv(argv[0], argv)
