"""``deployer lint``."""

from __future__ import annotations

from pathlib import Path

import typer

from deployer.cli import common


def lint(
    dockerfile: Path = typer.Argument(None, help="The Dockerfile (default: Dockerfile in the project directory)."),
    target: str = typer.Option("run", "--target", help="Where the image runs: run (Cloud Run, checks $PORT) or vm."),
    directory: Path = common.DirectoryOption,
    as_json: bool = common.JsonOption,
    verbose: bool = common.VerboseOption,
) -> None:
    """Report what makes the image slow to build, large or fragile, each finding with its line and the fix.

    deployer's checks (dependency layering, caches, compilers in the runtime stage, shell-form CMD, root, :latest,
    .dockerignore, $PORT, --platform) plus hadolint's where it is installed. Exit 1 when there are errors, 2 when the
    file cannot be read or is not a Dockerfile, else 0.
    """
    from deployer.cli.output import emit_json, out
    from deployer.services.lint import lint_dockerfile

    path = dockerfile if dockerfile is not None else directory / "Dockerfile"
    if dockerfile is not None and not path.is_absolute() and not path.exists():
        path = directory / dockerfile
    result = lint_dockerfile(path, target=target, context_dir=path.parent)
    if as_json:
        emit_json(result.to_json())
    else:
        for finding in result.findings:
            where = f"{path}:{finding.line}" if finding.line else f"{path}"
            out(f"{where}: {finding.severity} [{finding.rule}] {finding.message}")
            out(f"  fix: {finding.fix}")
        others = sum(1 for f in result.findings if f.severity == "info")
        hadolint = "with hadolint" if result.hadolint.ran else f"without hadolint: {result.hadolint.problem}"
        out(f"{result.errors} error(s), {result.warnings} warning(s), {others} info ({hadolint})")
    if result.errors:
        raise typer.Exit(1)
