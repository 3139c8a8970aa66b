"""Start and stop a local emulator process; used by ``deployer demo`` and the test suite.

The tool's layers never import the emulator: they start it as a separate process and reach it over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from deployer.errors import DeployerError


class LocalEmulator:
    """A ``python -m deployer.emulator`` child process on a free port."""

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        world: str = "open",
        scenario: Path | None = None,
        env: dict[str, str] | None = None,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self._state_dir = state_dir
        self._world = world
        self._scenario = scenario  # a scenario file seeds a strict world (docs/emulator.md)
        self._env = env
        self._startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="deployer-emu-run-"))
        self.url = ""
        self.engine: str | None = None
        self.log_path = self._workdir / "emulator.log"

    def start(self) -> LocalEmulator:
        ready = self._workdir / "ready.json"
        argv = [sys.executable, "-m", "deployer.emulator", "--port", "0", "--ready-file", str(ready), "--quiet"]
        argv += ["--world", self._world]
        if self._scenario is not None:
            argv += ["--scenario", str(self._scenario)]
        if self._state_dir is not None:
            argv += ["--state-dir", str(self._state_dir)]
        env = {**os.environ, **(self._env or {})}
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self._startup_timeout_s
        while not ready.exists():
            if self._proc.poll() is not None:
                raise DeployerError(
                    f"the emulator exited during start-up (code {self._proc.returncode})",
                    f"see its output in {self.log_path}",
                )
            if time.monotonic() > deadline:
                self.stop()
                raise DeployerError("the emulator did not start in time", f"see its output in {self.log_path}")
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

    def __enter__(self) -> LocalEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
