"""Pure tier: the root error handler (cli/app.py) turns every failure into a message and a documented exit code."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deployer.cli import common
from deployer.cli.app import app


def _failing_load(error: BaseException) -> object:
    def load(*args: object, **kwargs: object) -> object:
        raise error

    return load


def test_an_unexpected_error_under_json_prints_the_error_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "load", _failing_load(RuntimeError("boom")))
    result = CliRunner().invoke(app, ["config", "show", "--json"], catch_exceptions=False)
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["message"] == "unexpected RuntimeError: boom"
    assert error["exit_code"] == 1
    assert "--verbose" in error["hint"]
    assert "error: unexpected RuntimeError: boom" in result.stderr


def test_an_unexpected_error_with_verbose_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "load", _failing_load(RuntimeError("boom")))
    result = CliRunner().invoke(app, ["config", "show", "--verbose"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stdout == ""


def test_an_interrupt_exits_130_and_under_json_says_so_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "load", _failing_load(KeyboardInterrupt()))
    result = CliRunner().invoke(app, ["config", "show", "--json"], catch_exceptions=False)
    assert result.exit_code == 130
    assert json.loads(result.stdout)["error"]["exit_code"] == 130
    assert "run the same command again" in result.stderr


@pytest.mark.parametrize(
    "argv", [["--help"], ["deploy", "--help"], ["build", "-h"], ["config", "show", "--help"], ["emulator", "--help"]]
)
def test_help_imports_neither_pydantic_nor_google(argv: list[str]) -> None:
    # What start-up costs is measured by the bench; here only what --help must not load, whatever the clock says.
    import subprocess
    import sys

    script = (
        "import sys\n"
        f"sys.argv = ['deployer', *{argv!r}]\n"
        "from deployer.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in ('pydantic', 'google.cloud', 'google.auth', 'rich') if m in sys.modules]\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "Usage:" in done.stdout
    assert "LOADED []" in done.stderr
