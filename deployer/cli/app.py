"""The ``deployer`` command line: typer commands that parse flags, call a service and render the result.

Command modules import nothing heavy at import time (no pydantic, no google libraries), so ``--help`` is quick.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from deployer import __version__
from deployer.cli import common
from deployer.cli.bootstrap_cmd import bootstrap
from deployer.cli.build_cmd import build
from deployer.cli.config_cmd import config_app
from deployer.cli.demo_cmd import demo
from deployer.cli.deploy_cmd import deploy
from deployer.cli.destroy_cmd import destroy
from deployer.cli.doctor_cmd import doctor
from deployer.cli.emulator_cmd import emulator_app
from deployer.cli.init_cmd import init
from deployer.cli.lint_cmd import lint
from deployer.cli.logs_cmd import logs
from deployer.cli.run_cmd import run
from deployer.cli.status_cmd import status
from deployer.cli.traffic_cmd import promote, rollback, traffic

if TYPE_CHECKING:
    # typer carries its own copy of click; its Context is what the command tree passes.
    from typer._click.core import Context

EPILOG = (
    "Exit codes: 0 done; 1 failed (Google refused, a build or revision failed); 2 bad input (nothing was sent); "
    "130 interrupted (run again to finish). Docs: README.md."
)


class _Root(common.QuickHelp, TyperGroup):
    """The command tree's root: the one place where failures become a message and a documented exit code.

    It sits in the click tree rather than around ``app()`` so that tests invoking ``app`` see what users see.
    """

    def invoke(self, ctx: Context) -> Any:
        from deployer.cli.output import report_error, report_interrupt, report_unexpected
        from deployer.errors import DeployerError

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.TyperException):
            raise  # typer.Exit carries a code already; click reports usage errors itself (exit 2)
        except DeployerError as error:
            if _verbose(ctx):
                _print_traceback()
            raise typer.Exit(report_error(error, as_json=_as_json(ctx))) from None
        except (KeyboardInterrupt, typer.Abort) as interrupt:  # click turns Ctrl-C at a question into Abort
            raise typer.Exit(report_interrupt(interrupt, as_json=_as_json(ctx))) from None
        except Exception as exc:
            if _verbose(ctx):
                _print_traceback()
            raise typer.Exit(report_unexpected(exc, as_json=_as_json(ctx))) from None


def _print_traceback() -> None:
    import sys
    import traceback

    from deployer.masking import mask_text

    # A traceback quotes exception messages and request bodies: secret values are masked there too.
    print(mask_text(traceback.format_exc()), file=sys.stderr, end="", flush=True)


# The commands' --json and --verbose record themselves in the context's meta (shared by the whole tree) as they
# are parsed: see cli/common.py.
def _as_json(ctx: Context) -> bool:
    return bool(ctx.meta.get("as_json"))


def _verbose(ctx: Context) -> bool:
    return bool(ctx.meta.get("verbose")) or os.environ.get("DEPLOYER_VERBOSE") == "1"


app = typer.Typer(
    cls=_Root,
    name="deployer",
    help="Take a project with a Dockerfile to a running workload on Google Cloud.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich formatting would double the start-up time of `--help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"deployer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Take a project with a Dockerfile to a running workload on Google Cloud."""


app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(build)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(deploy)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(status)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(destroy)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(demo)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(bootstrap)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(doctor)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(init)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(lint)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(run)
app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(logs)
for _traffic_command in (traffic, rollback, promote):
    app.command(epilog=EPILOG, cls=common.HelpFirstCommand)(_traffic_command)
app.add_typer(config_app, name="config")
app.add_typer(emulator_app, name="emulator")


def main() -> None:
    app()
