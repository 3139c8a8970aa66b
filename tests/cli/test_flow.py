"""Emulator tier: Ctrl-C says what it left, and a re-run finishes it.

The interrupt itself is the one thing the emulator cannot send, so it is raised by a stand-in for the Cloud Run
adapter's call (after the real call went out, as when Ctrl-C lands while deployer waits on the revision). What was
done and what was left is read from the emulator's requests and state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployer.gcp.run import CloudRunAdapter
from deployer_emulator.testing import EmulatorHandle
from tests.projects import REGION, invoke, write_project


def make_project(directory: Path) -> str:
    return write_project(directory, "[services.api]\npublic = true\n")


def interrupt_at(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Ctrl-C lands when deployer calls the Cloud Run adapter's ``method``, before that call goes out."""

    def interrupt(self: CloudRunAdapter, *args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(CloudRunAdapter, method, interrupt)


def test_ctrl_c_while_the_service_deploys_names_that_step_and_a_rerun_finishes(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "app"
    project = make_project(directory)
    create = CloudRunAdapter.create_service

    def create_then_interrupt(self: CloudRunAdapter, *args: Any, **kwargs: Any) -> Any:
        create(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(CloudRunAdapter, "create_service", create_then_interrupt)
    emulator.mark()
    result = invoke(emulator, "deploy", "-C", str(directory))
    assert result.exit_code == 130
    assert "nothing half-done" not in result.stderr
    assert "while this step was running: create Cloud Run service api" in result.stderr
    assert "it may be half-done" in result.stderr
    assert "done: " in result.stderr
    assert "build" in result.stderr.split("done: ", 1)[1]
    assert "not started: allow unauthenticated calls" in result.stderr
    assert "run the same command again: it reads what exists and finishes the rest" in result.stderr
    sent = [f"{r['method']} {r['path']}" for r in emulator.mutating_requests()]
    service_path = f"/v2/projects/{project}/locations/{REGION}/services"
    assert f"POST {service_path}" in sent
    assert not any(path.endswith(":setIamPolicy") for path in sent)

    monkeypatch.setattr(CloudRunAdapter, "create_service", create)
    emulator.mark()
    again = invoke(emulator, "deploy", "-C", str(directory), "--json")
    assert again.exit_code == 0, again.stderr
    sent = [f"{r['method']} {r['path']}" for r in emulator.mutating_requests()]
    assert f"POST {service_path}/api:setIamPolicy" in sent
    assert f"POST /v1/projects/{project}/locations/{REGION}/builds" not in sent


def _interrupted_json_deploy(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> dict[str, Any]:
    """``deploy --json`` of a new app, Ctrl-C when the adapter's ``method`` is called: the error document."""
    directory = tmp_path / "app"
    make_project(directory)
    interrupt_at(monkeypatch, method)
    emulator.mark()
    result = invoke(emulator, "deploy", "-C", str(directory), "--json")
    assert result.exit_code == 130
    error: dict[str, Any] = json.loads(result.stdout)["error"]
    assert error["exit_code"] == 130
    return error


def test_ctrl_c_under_json_lists_the_running_done_and_left_steps(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = _interrupted_json_deploy(emulator, tmp_path, monkeypatch, "create_service")
    assert error["changes_started"] is True
    assert error["running"]["summary"].startswith("create Cloud Run service api")
    assert [step["action"] for step in error["done"]] == ["create", "upload", "create", "build"]
    assert [step["summary"] for step in error["left"]] == ["allow unauthenticated calls (run.invoker for allUsers)"]


def test_ctrl_c_while_planning_says_nothing_was_changed(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = _interrupted_json_deploy(emulator, tmp_path, monkeypatch, "get_service")
    assert emulator.mutating_requests() == []
    assert error["message"] == "interrupted before any change was made"
    assert error["changes_started"] is False
