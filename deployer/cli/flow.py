"""The one flow of every mutating command: plan → review → apply → render.

1. plan: the command's service computes a Result (reads only) inside a context manager, whose resources (a packed
   build context) live until the apply is done;
2. ``--dry-run``: have the server check the steps whose API can (Cloud Run's ``validate_only``), print the plan
   with the requests it would send (or the JSON document) and stop;
3. review: with ``--diff``, for a command that always asks (destroy, bootstrap), or when a step loses something
   (a VM recreated loses its boot disk: ``Step.confirm``), show the changes and ask; ``--yes`` answers yes;
   without a terminal to ask on, the command is refused (BadInput, exit 2) before any change;
4. apply the plan, then render: the command's human lines, or the JSON document with ``--json``.

Ctrl-C becomes ``plan.Interrupted``, which knows whether anything had started to change, the step that was running
and the steps done and left: the root handler (cli/app.py) says exactly that.

Under ``--json`` stdout holds the one JSON document, so the changes shown for review go to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from deployer.plan import Plan, Result

R = TypeVar("R", bound="Result")


@dataclass(frozen=True)
class Flags:
    """The flags every mutating command reads the same way."""

    dry_run: bool = False
    diff: bool = False
    yes: bool = False
    as_json: bool = False
    # ``--diff --exit-code``: show the changes, apply nothing, exit 0 (no change) or 1 (changes); an error exits 2.
    exit_code: bool = False


def run(
    planned: AbstractContextManager[R],
    flags: Flags,
    *,
    render: Callable[[R], None],
    ask: str | None = None,
) -> R:
    """Plan, review, apply and render. ``ask`` is the question of a command that asks even without ``--diff``."""
    from deployer.cli.output import emit_json, render_plan
    from deployer.errors import DeployerError, ExitCode
    from deployer.plan import Interrupted

    plan: Plan | None = None
    try:
        with planned as result:
            plan = result.plan
            result.dry_run = flags.dry_run
            if flags.exit_code:
                _show_and_exit(result, flags)
            if flags.dry_run:
                result.plan.validate()
            else:
                review(result.plan, flags, ask=ask)
                result.apply()
    except Interrupted:
        raise
    except DeployerError as error:
        if flags.exit_code:
            error.exit_code = ExitCode.BAD_INPUT
        raise
    except (KeyboardInterrupt, typer.Abort):  # click turns Ctrl-C at a question into Abort
        raise Interrupted(plan) from None
    if flags.as_json:
        emit_json(result.to_json(with_requests=flags.dry_run))
    elif flags.dry_run:
        render_plan(result.plan.to_json(with_request=True), with_requests=True)
    else:
        render(result)
    return result


def _show_and_exit(result: Result, flags: Flags) -> None:
    from deployer.cli.output import emit_json, render_plan

    if flags.as_json:
        emit_json(result.to_json())
    else:
        render_plan(result.plan.to_json(), with_requests=False)
    raise typer.Exit(1 if result.changed else 0)


def review(plan: Plan, flags: Flags, *, ask: str | None = None) -> None:
    """Show the changes and ask, when ``--diff`` or the command asks for it; a "no" exits 1 with nothing changed."""
    from deployer.cli.output import render_plan

    questions = plan.questions
    asking = flags.diff or ask is not None or bool(questions)
    if not asking:
        return
    wanted = bool(plan.changes) and not flags.yes
    # --diff shows the plan even when --yes answers for it; a command that asks shows it when it asks.
    if flags.diff or wanted:
        render_plan(plan.to_json(), with_requests=False, stream=sys.stderr if flags.as_json else sys.stdout)
    if wanted and not confirm(" ".join(questions) or ask or "Apply these changes?"):
        raise typer.Exit(1)


def confirm(question: str) -> bool:
    from deployer.errors import BadInput

    if not sys.stdin.isatty():
        raise BadInput(f"{question} cannot ask: standard input is not a terminal", "pass --yes to apply without asking")
    return typer.confirm(question, default=False, err=True)
