"""``deployer doctor``."""

from __future__ import annotations

import sys
from typing import Any

import typer

from deployer.cli import common

_MARK = {"ok": "ok", "warning": "warning", "error": "ERROR"}
_STYLE = {"ok": "green", "warning": "yellow", "error": "bold red"}


@common.shared_options(run=False)
def doctor(
    opts: common.Shared = common.DEFAULTS,
) -> None:
    """Check that the project is ready for what deployer.toml describes, and print the exact fix for each problem.

    Checks credentials, the project, billing, the APIs, your permissions for each target, the build and runtime
    accounts, and GPU regions and quota. Exit 0 without errors, 1 with errors, 2 on bad input.
    """
    from deployer.cli.output import emit_json
    from deployer.gcp import GoogleCloud
    from deployer.services.doctor import run_doctor

    config = opts.load()
    report = run_doctor(GoogleCloud(), config).to_json()
    if opts.as_json:
        emit_json(report)
    elif sys.stdout.isatty():
        _render_table(report)
    else:
        _render_lines(report)
    if report["errors"]:
        raise typer.Exit(1)


def _summary(report: dict[str, Any]) -> str:
    verdict = "ready" if not report["errors"] else "not ready"
    return f"project {report['project']} is {verdict}: {report['errors']} error(s), {report['warnings']} warning(s)"


def _render_lines(report: dict[str, Any]) -> None:
    from deployer.cli.output import out

    for finding in report["findings"]:
        out(f"{_MARK[finding['severity']]:<8} {finding['check']}: {finding['found']}")
        if finding["fix"]:
            out(f"         fix: {finding['fix']}")
    out(_summary(report))


def _render_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, highlight=False)
    table.add_column("status")
    table.add_column("check")
    table.add_column("found")
    table.add_column("fix")
    for finding in report["findings"]:
        severity = finding["severity"]
        # Text, not markup: findings quote config keys such as [bootstrap].
        table.add_row(
            Text(_MARK[severity], style=_STYLE[severity]),
            Text(finding["check"]),
            Text(finding["found"]),
            Text(finding["fix"]),
        )
    console = Console()
    console.print(table)
    console.print(_summary(report), markup=False, highlight=False)
