"""How services report progress without printing: the CLI implements this protocol."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol


class Reporter(Protocol):
    def info(self, message: str) -> None:
        """A line of progress (stderr on the CLI)."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the command."""

    def activity(self, message: str) -> AbstractContextManager[None]:
        """A slow step: a spinner on a terminal, a start line otherwise."""

    def log_line(self, line: str) -> None:
        """One line of a remote log (the build log), passed through as it arrives."""


class SilentReporter:
    """A Reporter that drops everything: for library use and tests that only look at results."""

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def activity(self, message: str) -> AbstractContextManager[None]:
        return nullcontext()

    def log_line(self, line: str) -> None:
        pass
