"""The one error type deployer raises, and the exit codes the CLI maps it to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in README.md ("Exit codes")."""

    OK = 0
    FAILED = 1  # Google refused, a build or revision failed, doctor found errors
    BAD_INPUT = 2  # config, flags or arguments are wrong: nothing was sent
    INTERRUPTED = 130  # Ctrl-C; a second run finishes what the first began


class DeployerError(Exception):
    """What happened and why (``message``), and what to do about it (``hint``).

    Every failure the user can act on is one of these; the CLI prints it without a traceback.
    """

    def __init__(self, message: str, hint: str | None = None, *, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class BadInput(DeployerError):
    """Bad configuration, flag or argument: exit 2, and nothing was sent to Google."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, exit_code=ExitCode.BAD_INPUT)
