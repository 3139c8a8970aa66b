"""What every command shares: the common options and config loading."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from typer._click.core import Context

    from deployer.cli.flow import Flags
    from deployer.cli.output import ConsoleReporter
    from deployer.config import ResolvedConfig


class QuickHelp:
    """Mixed into the command tree's classes: ``--help`` costs no pydantic import.

    typer converts every processed parameter's value through a pydantic adapter, built (and pydantic imported,
    ~90 ms) on first use, and skips that only for a bool flag whose value is already a bool. click leaves the help
    flag's value None when it is not given, so processing it (the root's, on every ``deployer CMD ...``) paid the
    import. With False as its default it takes the skip; the option and its text are click's own.
    """

    def get_help_option(self, ctx: Context) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and option.default is None:
            option.default = False
        return option


class HelpFirstCommand(QuickHelp, TyperCommand):
    """A command whose ``--help`` is as quick as the root's."""


class QuickHelpGroup(QuickHelp, TyperGroup):
    """A group of commands (``config``, ``emulator``) whose ``--help`` is as quick as the root's."""


def _remember(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> bool:
    # The root error handler (cli/app.py) reads these once the command has failed: it must know how to report.
    ctx.meta[param.name or ""] = value
    return value


def at_least(minimum: int, unit: str) -> Callable[[int | None], int | None]:
    """An option callback refusing values below ``minimum``: click reports it as a usage error, exit 2, naming the
    flag, the value and what is allowed, before anything is read or sent."""

    def check(value: int | None) -> int | None:
        if value is not None and value < minimum:
            raise typer.BadParameter(f"{value} is not allowed: it is a whole number of {unit}, at least {minimum}")
        return value

    return check


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
# The build context's limits, for every command that uploads one (build, deploy).
MaxContextOption = typer.Option(
    None,
    "--max-context-mb",
    callback=at_least(1, "MB"),
    help="Refuse contexts larger than this many MB (at least 1; default 500).",
)
AllowLargeContextOption = typer.Option(False, "--allow-large-context", help="Upload even above the limit.")
AllowCredentialFileOption = typer.Option(
    [], "--allow-credential-file", help="Upload this file although it looks like a credential (repeatable)."
)


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


@dataclass(frozen=True)
class Shared:
    """The options every command shares, as one value (see ``shared_options``)."""

    directory: Path = Path(".")
    config_file: Path | None = None
    project: str | None = None
    region: str | None = None
    repository: str | None = None
    dry_run: bool = False
    diff: bool = False
    yes: bool = False
    as_json: bool = False
    verbose: bool = False

    def load(self) -> ResolvedConfig:
        """The configuration these options select (``load`` is looked up on each call: tests replace it)."""
        return load(
            self.directory, self.config_file, project=self.project, region=self.region, repository=self.repository
        )

    def flags(self) -> Flags:
        from deployer.cli.flow import Flags

        return Flags(dry_run=self.dry_run, diff=self.diff, yes=self.yes, as_json=self.as_json)

    def reporter(self) -> ConsoleReporter:
        from deployer.cli.output import ConsoleReporter

        return ConsoleReporter(verbose=self.verbose)


DEFAULTS = Shared()  # what a command called directly, without the shared_options wrapper, sees

# Each shared option: its parameter name (the name click knows it by, which ``_remember`` records), its type and
# its typer.Option.
_TARGET: tuple[tuple[str, type, Any], ...] = (
    ("project", str, ProjectOption),
    ("region", str, RegionOption),
    ("repository", str, RepositoryOption),
    ("directory", Path, DirectoryOption),
    ("config_file", Path, ConfigOption),
)
_RUN: tuple[tuple[str, type, Any], ...] = (
    ("dry_run", bool, DryRunOption),
    ("diff", bool, DiffOption),
    ("yes", bool, YesOption),
)
_OUTPUT: tuple[tuple[str, type, Any], ...] = (
    ("as_json", bool, JsonOption),
    ("verbose", bool, VerboseOption),
)

Command = Callable[..., None]


def shared_options(*, repository: bool = True, run: bool = True) -> Callable[[Command], Command]:
    """Give a command the shared options, handed to it as one ``Shared`` in its parameter ``opts``.

    typer reads the command's parameters from ``inspect.signature``: the wrapper's signature is the command's with
    ``opts`` replaced by --project, --region, [--repository,] --directory and --config, and --dry-run, --diff,
    --yes (with ``run``), --json and --verbose added at the end. ``repository=False`` for a command that has no
    registry to choose; ``run=False`` for one that changes nothing.
    """
    target = [option for option in _TARGET if repository or option[0] != "repository"]
    tail = [*(_RUN if run else ()), *_OUTPUT]

    def decorate(command: Command) -> Command:
        hints = typing.get_type_hints(command)
        own = list(inspect.signature(command).parameters.values())
        at = [p.name for p in own].index("opts")
        shared = [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=kind)
            for name, kind, default in (*target, *tail)
        ]
        parameters = [*own[:at], *shared[: len(target)], *own[at + 1 :], *shared[len(target) :]]
        names = [p.name for p in shared]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            opts = Shared(**{name: kwargs.pop(name) for name in names if name in kwargs})
            command(*args, opts=opts, **kwargs)

        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            **{p.name: hints[p.name] for p in own if p.name != "opts"},
            **{p.name: p.annotation for p in shared},
        }
        return wrapper

    return decorate
