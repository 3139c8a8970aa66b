"""The command line's root (cli/app.py): the one error handler, start-up cost, help on every command and
option, and the version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
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


ROOT = Path(__file__).resolve().parents[2]


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(result.stdout.split())


def test_cli_start_up_imports_no_google_client_library_and_no_pydantic() -> None:
    loaded = _modules_after("import deployer.cli.app")
    assert not {m for m in loaded if m.startswith("google.cloud")}
    assert "pydantic" not in loaded


def test_services_import_google_cloud_only_through_gcp_lazily() -> None:
    loaded = _modules_after("import deployer.services.deploy_run, deployer.services.build, deployer.gcp")
    assert not {m for m in loaded if m.startswith("google.cloud")}


@pytest.mark.parametrize("command", [[], ["build"], ["deploy"], ["demo"], ["config", "show"], ["emulator"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def _walk(command: Any, path: str = "deployer") -> list[tuple[str, Any]]:
    found = [(path, command)]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            found += _walk(sub, f"{path} {name}")
    return found


def test_every_command_and_option_explains_itself() -> None:
    for path, command in _walk(typer.main.get_command(app)):
        assert command.help, f"`{path}` has no help text"
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"`{path}` option {param.opts} has no help text"
            else:
                assert getattr(param, "help", None), f"`{path}` argument {param.name} has no help text"


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("deployer ")


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
