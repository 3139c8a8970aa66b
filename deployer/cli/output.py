"""How the CLI talks: results on stdout, progress and errors on stderr, one JSON document with ``--json``.

A spinner on a terminal, plain lines otherwise (CI logs stay readable). rich is imported only when a terminal
needs it, so commands stay quick to start.

Everything printed passes through ``deployer.masking`` here, the one place: secret env values never reach a
terminal or a CI log, whichever command or error path prints them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import IO, Any

from deployer.errors import DeployerError, ExitCode
from deployer.masking import mask, mask_text


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


class ConsoleReporter:
    """The CLI's Reporter: progress to stderr, a spinner on a terminal, plain lines otherwise."""

    def __init__(self, *, verbose: bool = False) -> None:
        self.verbose = verbose
        self.started = time.monotonic()
        self._console: Any = None
        if _interactive():
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)

    def _line(self, text: str, style: str | None = None) -> None:
        text = mask_text(text)
        if self._console is not None:
            self._console.print(text, style=style, markup=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def info(self, message: str) -> None:
        self._line(message)

    def warn(self, message: str) -> None:
        self._line(f"warning: {message}", "yellow")

    def log_line(self, line: str) -> None:
        self._line(f"  | {line}", "dim")

    def activity(self, message: str) -> AbstractContextManager[None]:
        return self._activity(message)

    @contextmanager
    def _activity(self, message: str) -> Iterator[None]:
        began = time.monotonic()
        if self._console is not None:
            with self._console.status(message):
                yield
        else:
            self._line(f"{message} ...")
            yield
        self._line(f"{message}: done ({time.monotonic() - began:.1f}s)")

    def finished(self, what: str = "Done") -> None:
        self._line(f"{what} in {time.monotonic() - self.started:.1f}s")


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(mask(document), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def out(text: str = "", *, stream: IO[str] | None = None) -> None:
    print(mask_text(text), file=stream or sys.stdout, flush=True)


def render_plan(steps: list[dict[str, Any]], *, with_requests: bool, stream: IO[str] | None = None) -> None:
    """A plan (on stdout unless ``stream``): each step, no-op or not, and (for a dry run) the request it would send.

    Secret env values in the bodies are masked by name (Cloud Run's env entries) before the body is printed; ``out``
    masks the rest by value."""
    steps = mask(steps)
    for step in steps:
        marker = "=" if step["action"] == "noop" else "+" if step["action"] == "create" else "~"
        out(f"{marker} {step['action']:<7} {step['resource']}", stream=stream)
        out(f"          {step['summary']}", stream=stream)
        if with_requests and "request" in step:
            request = step["request"]
            out(f"          {request['method']} {request['url']}", stream=stream)
            body = json.dumps(request.get("body"), indent=2)
            for line in body.splitlines():
                out(f"            {line}", stream=stream)
    changes = sum(1 for s in steps if s["action"] != "noop")
    out(f"{changes} change(s), {len(steps) - changes} unchanged", stream=stream)


def _error_document(message: str, hint: str | None, exit_code: int, **facts: Any) -> None:
    emit_json({"error": {"message": message, "hint": hint, "exit_code": exit_code, **facts}})


def _err(text: str) -> None:
    print(mask_text(text), file=sys.stderr, flush=True)


def report_error(error: DeployerError, *, as_json: bool) -> int:
    if as_json:
        _error_document(error.message, error.hint, int(error.exit_code))
    _err(f"error: {error.message}")
    if error.hint:
        _err(f"  fix: {error.hint}")
    return int(error.exit_code)


def report_interrupt(interrupt: BaseException | None = None, *, as_json: bool) -> int:
    """Say what an interrupt left: a flow's interrupt knows the step that was running and the steps done and left
    (``plan.Interrupted``); any other says only that it stopped, since it cannot know more."""
    from deployer.plan import Interrupted

    if isinstance(interrupt, Interrupted):
        message, facts = interrupt.describe()
        hint = (
            "run the same command again: it reads what exists and finishes the rest"
            if facts["changes_started"]
            else "run the same command again when you want it"
        )
    else:
        message, facts = "interrupted", {}
        hint = "run the same command again to finish"
    if as_json:
        _error_document(message, hint, int(ExitCode.INTERRUPTED), **facts)
    _err(f"{message}\n  {hint}")
    return int(ExitCode.INTERRUPTED)


def report_unexpected(exc: Exception, *, as_json: bool) -> int:
    message = f"unexpected {type(exc).__name__}: {exc}"
    hint = "run again with --verbose for the traceback, and report it"
    if as_json:
        _error_document(message, hint, int(ExitCode.FAILED))
    _err(f"error: {message}")
    _err(f"  ({hint})")
    return int(ExitCode.FAILED)
