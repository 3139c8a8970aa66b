"""Start an emulator process and look at what it recorded: the one launcher the test suites use.

``python -m deployer_emulator`` (``__main__.py``) defines the emulator's flags; this module starts that program on a
free port, waits for the ready file it writes, and wraps the admin endpoints (``/_emulator/...``) that tests read.
Callers speak for a principal with the bearer token form ``emulator:<member>``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import requests
from requests import Session

C = TypeVar("C")


class EmulatorStartError(RuntimeError):
    """The emulator process exited or did not become ready; the message names its log file."""


class EmulatorProcess:
    """A ``python -m deployer_emulator`` child process on a free port, stopped by ``stop()`` or ``with``."""

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        world: str = "open",
        scenario: Path | None = None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self._state_dir = state_dir
        self._world = world
        self._scenario = scenario  # a scenario file seeds a strict world (README.md)
        self._env = env
        self._extra_args = list(extra_args or [])
        self._startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="deployer-emu-run-"))
        self.url = ""
        self.engine: str | None = None
        self.log_path = self._workdir / "emulator.log"

    def argv(self, ready_file: Path) -> list[str]:
        argv = [sys.executable, "-m", "deployer_emulator", "--port", "0", "--ready-file", str(ready_file), "--quiet"]
        argv += ["--world", self._world]
        if self._scenario is not None:
            argv += ["--scenario", str(self._scenario)]
        if self._state_dir is not None:
            argv += ["--state-dir", str(self._state_dir)]
        return argv + self._extra_args

    def start(self) -> EmulatorProcess:
        ready = self._workdir / "ready.json"
        env = {**os.environ, **(self._env or {})}
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(self.argv(ready), stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self._startup_timeout_s
        while not ready.exists():
            if self._proc.poll() is not None:
                raise EmulatorStartError(
                    f"the emulator exited during start-up (code {self._proc.returncode}); see {self.log_path}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorStartError(f"the emulator did not start in time; see {self.log_path}")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        self.url = info["url"]
        self.engine = info["engine"]
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmulatorHandle:
    """A running emulator, with the admin calls tests use to look at what it recorded."""

    def __init__(self, process: EmulatorProcess) -> None:
        self.process = process
        self.url = process.url
        self.engine = process.engine
        self._mark = 0

    def mark(self) -> None:
        """Forget the requests so far: ``requests()`` then returns only what comes after."""
        self._mark += len(self.requests())

    def requests(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/_emulator/requests", params={"since": self._mark}, timeout=10)
        response.raise_for_status()
        return list(response.json()["requests"])

    def mutating_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["mutating"]]

    def add_fault(self, **fault: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=fault, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=10).raise_for_status()

    def settings(self, **values: Any) -> None:
        requests.patch(f"{self.url}/_emulator/settings", json=values, timeout=10).raise_for_status()

    def run_cleanup(self, repository: str, days_later: float = 0) -> list[str]:
        """Run the Artifact Registry repository's cleanup policies now, as if ``days_later`` days had passed; the
        DockerImage names they deleted."""
        body: dict[str, Any] = {"repository": repository, "days_later": days_later}
        response = requests.post(f"{self.url}/_emulator/artifactregistry/cleanup", json=body, timeout=30)
        response.raise_for_status()
        return list(response.json()["deleted"])

    def set_quotas(self, project: str, quotas: dict[str, dict[str, int]]) -> None:
        """Cloud Run quota values for ``project``: ``{quota_id: {region or "*": value}}`` (cloudquotas.py)."""
        body: dict[str, Any] = {"project": project, "quotas": quotas}
        requests.patch(f"{self.url}/_emulator/quotas", json=body, timeout=10).raise_for_status()

    def state(self) -> dict[str, Any]:
        """Every resource the emulator holds, by table."""
        response = requests.get(f"{self.url}/_emulator/state", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def as_caller(self, member: str) -> Session:
        """A session whose requests speak for ``member`` (``user:a@x.com``, ``serviceAccount:...``)."""
        session = Session()
        session.headers["Authorization"] = f"Bearer emulator:{member}"
        return session


def caller_credentials(member: str) -> Any:
    """google-auth credentials that carry ``member`` to the emulator, for the client libraries."""
    from google.oauth2.credentials import Credentials

    return Credentials(token=f"emulator:{member}")  # type: ignore[no-untyped-call]


def rest_client(client_type: Callable[..., C], handle: EmulatorHandle, member: str) -> C:
    """A google-cloud client on the emulator (REST transport) that speaks for ``member``."""
    return client_type(
        credentials=caller_credentials(member), transport="rest", client_options={"api_endpoint": handle.url}
    )


def error_json(exc: Any) -> dict[str, Any]:
    """The ``error`` document of the answer a client library raised ``exc`` (a ``GoogleAPICallError``) for."""
    assert exc.response is not None
    error: dict[str, Any] = exc.response.json()["error"]
    return error


# Where each API's endpoint override points, below the emulator's root. The gcloud property is
# api_endpoint_overrides/<api> (CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>; https://cloud.google.com/sdk/docs/properties);
# the storage override names the JSON API's base path, as its default https://storage.googleapis.com/storage/v1/ does.
GCLOUD_API_PATHS = {
    "cloudbuild": "/",
    "artifactregistry": "/",
    "storage": "/storage/v1/",
    "cloudresourcemanager": "/",
    "serviceusage": "/",
    "logging": "/",
}


def gcloud_env(
    url: str, config_dir: Path, apis: Iterable[str], *, project: str | None = None, token_file: Path | None = None
) -> dict[str, str]:
    """The environment for a gcloud CLI that reaches the emulator at ``url`` for ``apis`` (GCLOUD_API_PATHS' keys).

    None of the machine's own gcloud settings leak in (every CLOUDSDK_ variable is replaced); gcloud never prompts,
    checks for updates or reports usage. With ``token_file`` (holding ``emulator:<member>``) gcloud speaks for that
    member; without it, gcloud sends no credentials.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLOUDSDK_")}
    env.update(
        CLOUDSDK_CONFIG=str(config_dir),
        CLOUDSDK_CORE_DISABLE_PROMPTS="1",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
    )
    if project is not None:
        env["CLOUDSDK_CORE_PROJECT"] = project
    if token_file is None:
        env["CLOUDSDK_AUTH_DISABLE_CREDENTIALS"] = "true"
    else:
        env["CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"] = str(token_file)
    for api in apis:
        env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = url + GCLOUD_API_PATHS[api]
    return env


def engine_available() -> str | None:
    """The container engine that answers ``info``, as the emulator itself would pick it."""
    from deployer_emulator.engine import detect_engine

    engine = detect_engine()
    return engine.name if engine else None
