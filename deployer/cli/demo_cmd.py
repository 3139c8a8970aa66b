"""``deployer demo``."""

from __future__ import annotations

import typer

from deployer.cli import common


def demo(
    keep: bool = typer.Option(False, "--keep", help="Leave the emulator and the service running until Ctrl-C."),
    as_json: bool = common.JsonOption,
    verbose: bool = common.VerboseOption,
) -> None:
    """Deploy the bundled sample app end to end on a local emulator, print its URL and its answer.

    Starts an emulator on a free port, builds the sample's Dockerfile through Cloud Build, pushes it to Artifact
    Registry, deploys it to Cloud Run, calls it, then stops everything it started. No Google account needed.
    Without a working container engine (podman or docker) the image is not built and the app does not run: the
    demo says so, and how to install one on this system.
    """
    from deployer.cli.output import ConsoleReporter, emit_json, out
    from deployer.services.demo import run_demo

    reporter = ConsoleReporter(verbose=verbose)
    outcome = run_demo(reporter, keep=keep)
    if as_json:
        emit_json(outcome.to_json())
        return
    reporter.finished()
    out(f"Service URL: {outcome.url}")
    out(f"Answer:      {outcome.answer}")
    if outcome.not_shown:
        out(f"Not shown:   {outcome.not_shown}")
