"""``deployer demo``: the main job end to end on a local emulator, with the bundled sample app."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.config import load_config
from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud, Target
from deployer.plan import attributes
from deployer.reporter import Reporter
from deployer.services.build import Placement, inputs_from_config
from deployer.services.deploy_run import DeployResult, RunDeployer
from deployer.services.local_emulator import LocalEmulator

SAMPLE_APP = Path(__file__).resolve().parent.parent / "sample_app"
PODMAN_INSTALL_PAGE = "https://podman.io/docs/installation"
# What an emulator without an engine cannot do (it records the build as not executed; the URL answers 503).
NOT_SHOWN = "the image was not built and the app did not run, so its answer is the emulator's 503"


def install_engine_command(system: str | None = None, os_release: str | None = None) -> str:
    """How to get a container engine on this machine: apt on Debian and Ubuntu, Homebrew on macOS, else the page.

    ``system`` is ``platform.system()``; ``os_release`` the text of /etc/os-release (read when not given).
    """
    import platform

    system = system if system is not None else platform.system()
    if system == "Darwin":
        return "brew install podman && podman machine init && podman machine start"
    if system == "Linux":
        if os_release is None:
            try:
                os_release = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
            except OSError:
                os_release = ""
        ids: set[str] = set()
        for line in os_release.splitlines():
            key, _, value = line.partition("=")
            if key in ("ID", "ID_LIKE"):
                ids.update(value.strip().strip('"').lower().split())
        if ids & {"debian", "ubuntu"}:
            return "sudo apt-get install podman"
    return f"install podman: {PODMAN_INSTALL_PAGE}"


def no_engine_line(system: str | None = None, os_release: str | None = None) -> str:
    """One line: what the demo could not show without an engine, and how to get one here."""
    return (
        f"no working container engine (podman or docker): {NOT_SHOWN}. To see it all: "
        f"{install_engine_command(system, os_release)}, then run `deployer demo` again"
    )


@dataclass(frozen=True)
class DemoOutcome:
    url: str
    answer: str
    status: int
    engine: str | None
    deploy: DeployResult
    not_shown: str | None = None  # without an engine: what the demo could not show, and how to get one

    def to_json(self) -> dict[str, Any]:
        return {**attributes(self, "url", "status", "answer", "engine", "not_shown"), "deploy": self.deploy.to_json()}


def run_demo(reporter: Reporter, *, keep: bool = False) -> DemoOutcome:
    workdir = Path(tempfile.mkdtemp(prefix="deployer-demo-"))
    project_dir = workdir / "sample-app"
    shutil.copytree(SAMPLE_APP, project_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    try:
        with reporter.activity("Starting a local Google Cloud emulator"):
            emulator = LocalEmulator(state_dir=workdir / "emulator-state").start()
        try:
            engine = emulator.engine
            engine_note = (
                f"container engine: {engine}" if engine else "no container engine: builds are recorded, not run"
            )
            reporter.info(f"Emulator at {emulator.url} ({engine_note})")
            config = load_config(project_dir, environ={})
            name, service = config.service(None)
            inputs = inputs_from_config(config, name, service)
            cloud = GoogleCloud(Target(emulator_url=emulator.url))
            where = Placement(inputs.project, inputs.region, inputs)
            result = RunDeployer(cloud, reporter).deploy(name, service, where)
            status, answer = _call(result.url)
            missing = None if engine else no_engine_line()
            if missing:
                reporter.warn(missing)
            outcome = DemoOutcome(result.url, answer, status, engine, result, missing)
            if keep:
                reporter.info(f"Serving at {result.url}; Ctrl-C to stop the emulator and the service")
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
            return outcome
        finally:
            with reporter.activity("Stopping the emulator and everything it started"):
                emulator.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _call(url: str) -> tuple[int, str]:
    import requests

    try:
        response = requests.get(url, timeout=30)
    except requests.RequestException as exc:
        raise DeployerError(f"the service at {url} did not answer: {exc}") from exc
    return response.status_code, response.text.strip()
