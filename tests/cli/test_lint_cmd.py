"""Pure tier: `deployer lint`'s exit codes and JSON (cli/lint_cmd.py)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from deployer.cli.app import app
from tests.services.lint.samples import ANTI_PATTERNS, EXPECTED, rendered_template, write_dockerfile


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["lint", *args], env={"NO_COLOR": "1", "CI": "1"}, catch_exceptions=False)


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    bad = write_dockerfile(tmp_path / "bad", ANTI_PATTERNS)
    result = _invoke(str(bad), "--json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    doc = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert doc["errors"] >= 2
    assert {(f["rule"], f["line"]) for f in doc["findings"] if f["source"] == "deployer"} == EXPECTED
    text = _invoke(str(bad), "--target", "vm")
    assert f"{bad}:13: warning [shell-form]" in text.stdout  # type: ignore[attr-defined]
    assert "  fix: use the exec form" in text.stdout  # type: ignore[attr-defined]
    good = rendered_template(tmp_path, "python-api")
    clean = _invoke("-C", str(good.parent))
    assert clean.exit_code == 0, clean.stdout  # type: ignore[attr-defined]
    assert "0 error(s), 0 warning(s)" in clean.stdout  # type: ignore[attr-defined]
    assert _invoke(str(tmp_path / "nope" / "Dockerfile")).exit_code == 2  # type: ignore[attr-defined]
    assert _invoke(str(good), "--target", "lambda").exit_code == 2  # type: ignore[attr-defined]
