"""Pure tier: the import contracts in pyproject.toml ([tool.importlinter]), checked by import-linter, and what
importing the whole product loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports")
    if lint_imports is None:
        pytest.skip("import-linter is not installed (it is in the test extras: bash tests/setup.sh)")
    result = subprocess.run([lint_imports], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_importing_every_product_module_loads_no_emulator_module() -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "deployer").rglob("*.py")
        if path.name != "__main__.py"  # running the command is not importing it
    )
    code = "\n".join(f"import {m}" for m in modules)
    code += "\nimport sys\nprint('\\n'.join(m for m in sys.modules if m.startswith('deployer_emulator')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == ""
    assert len(modules) > 40  # the walk found the product, not an empty folder


def test_emulator_start_hands_its_flags_to_the_emulator() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deployer", "emulator", "start", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "--insecure-bind" in result.stdout  # the emulator's own flags
    assert "--scenario" in result.stdout


def test_emulator_start_refuses_a_missing_scenario_before_starting(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "deployer", "emulator", "start", "--scenario", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "none.toml: cannot read the scenario file: no such file" in missing.stderr
