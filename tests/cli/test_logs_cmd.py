"""`deployer logs` for a Cloud Run service: its running container's output, read through Cloud Logging."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from deployer_emulator.testing import EmulatorHandle
from tests.cli.test_run_cmd import REGION, invoke

APP = """import http.server, os, sys
print("service says hello", flush=True)
print("a warning on stderr", file=sys.stderr, flush=True)
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


@pytest.mark.containers
def test_a_services_container_output_is_in_its_logs(engine_emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "svc"
    directory.mkdir()
    (directory / "Dockerfile").write_text('FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    (directory / "app.py").write_text(APP)
    project = f"logs-{uuid.uuid4().hex[:8]}"
    (directory / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n[services.api]\n')
    assert invoke(engine_emulator, "deploy", "api", "-C", str(directory)).exit_code == 0
    result = invoke(engine_emulator, "logs", "api", "-C", str(directory), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert 'resource.type="cloud_run_revision"' in doc["filter"]
    texts = [line["text"] for line in doc["lines"]]
    assert "service says hello" in texts
    assert "a warning on stderr" in texts


def test_execution_and_task_are_for_jobs_only(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "svc"
    directory.mkdir()
    (directory / "deployer.toml").write_text(f'project = "logs-only"\nregion = "{REGION}"\n[services.api]\n')
    emulator.mark()
    result = invoke(emulator, "logs", "api", "-C", str(directory), "--task", "1")
    assert result.exit_code == 2
    assert "for jobs" in result.stderr
    assert emulator.requests() == []
