"""The small projects the emulator-tier tests deploy, and the CLI run against the emulator that deploys them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from deployer.cli.app import app
from deployer_emulator.testing import EmulatorHandle

REGION = "europe-west4"

# The VM issue's [vms.trainer] table; "{zone}" stands for its zone line, which some tests leave out.
ISSUE_VM = """
[vms.trainer]
dockerfile = "train/Dockerfile"
machine_type = "g2-standard-8"
gpu = { type = "nvidia-l4", count = 1 }
{zone}
spot = true
max_run_duration = "8h"
ports = [8080]
args = ["--epochs", "10"]
env = { WANDB_MODE = "offline" }
disk_gb = 100
"""


def write_project(directory: Path, tables: str, *, project: str | None = None) -> str:
    """A Dockerfile, an app that prints hello, and a deployer.toml with ``tables`` below project and region."""
    project = project or f"proj-{uuid.uuid4().hex[:10]}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text('FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    (directory / "app.py").write_text("print('hello')\n")
    (directory / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n\n{tables}')
    return project


def invoke(emulator: EmulatorHandle, *args: str) -> Any:
    """The deployer command line, run in-process against the emulator, without colour or a terminal."""
    env = {"DEPLOYER_EMULATOR_URL": emulator.url, "NO_COLOR": "1", "CI": "1"}
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
